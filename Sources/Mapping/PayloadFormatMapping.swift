import Foundation
import V2Model
import V3Model

/// v2 handler payload format → v3 application link default formatters (`reference/v3-api.md` §16).
///
/// `custom` (or absent): the decoder verbatim as `FORMATTER_JAVASCRIPT` up, the encoder as
/// `FORMATTER_JAVASCRIPT` down (v3 runs v2's `Decoder`/`Encoder` functions); no decoder, no up
/// formatter. `cayennelpp`: `FORMATTER_CAYENNELPP` both ways. A converter or validator has no v3 twin:
/// warning to review. A function over 40,960 characters is not set (warning). Nil link when nothing is set.
public enum PayloadFormatMapping {
    public static func link(
        _ handler: V2HandlerApplication, v2ApplicationID: String, v3ApplicationID: String, warnings: inout [MappingWarning]
    ) -> V3ApplicationLink? {
        let entity = EntityRef(kind: .applicationLink, v2ID: v2ApplicationID, v3ID: v3ApplicationID)
        var formatters = V3MessagePayloadFormatters()
        let format = (handler.payloadFormat ?? "").lowercased()

        switch format {
        case "", "custom":
            if let decoder = nonEmpty(handler.decoder) {
                if fits(decoder, function: "decoder", entity: entity, warnings: &warnings) {
                    formatters.upFormatter = .javascript
                    formatters.upFormatterParameter = decoder
                }
            }
            if let encoder = nonEmpty(handler.encoder) {
                if fits(encoder, function: "encoder", entity: entity, warnings: &warnings) {
                    formatters.downFormatter = .javascript
                    formatters.downFormatterParameter = encoder
                }
            }
            let review = [("converter", handler.converter), ("validator", handler.validator)]
                .filter { nonEmpty($0.1) != nil }.map(\.0)
            if !review.isEmpty {
                warnings.append(MappingWarning(
                    .payloadFunctionReview, entity,
                    "application \"\(v2ApplicationID)\" has a v2 \(review.joined(separator: " and ")) function, which v3 does not have; it is not migrated. Review it and fold what it does into the uplink formatter in v3"))
            }
        case "cayennelpp":
            formatters.upFormatter = .cayenneLPP
            formatters.downFormatter = .cayenneLPP
        default:
            warnings.append(MappingWarning(
                .payloadFormatUnknown, entity,
                "application \"\(v2ApplicationID)\" uses v2 payload format \"\(handler.payloadFormat ?? "")\", which ttn-migrate does not know; no formatter is set. Set one in v3 by hand"))
        }

        let link = V3ApplicationLink(defaultFormatters: formatters)
        return link.fieldMask.isEmpty ? nil : link
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        return text
    }

    private static func fits(_ source: String, function: String, entity: EntityRef, warnings: inout [MappingWarning]) -> Bool {
        // protoc-gen-validate's max_len counts characters (code points), not bytes.
        let size = source.unicodeScalars.count
        guard size > V3PayloadFormatter.maxParameterLength else { return true }
        warnings.append(MappingWarning(
            .payloadFormatterTooLarge, entity,
            "the v2 \(function) of application \"\(entity.v2ID)\" is \(size) characters; v3 accepts at most \(V3PayloadFormatter.maxParameterLength). It is not migrated: shorten it and set it in v3 by hand"))
        return false
    }
}
