/// The reference tables of The Things Stack v3, embedded verbatim as JSON text.
///
/// Raw data only: the client (`V3Model`) and the simulators (`Simulator`) each parse it with their own
/// code, so a client mistake cannot be mirrored by the simulator (DESIGN.md §5). Provenance:
/// `PROVENANCE.md` beside this file.
public enum ReferenceData {}
