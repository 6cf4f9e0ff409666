#!/usr/bin/env python3
"""Writes the band and channel tables of Sources/ReferenceData/Data/.

- `lorawan-frequency-plan-channels.json`: for every plan of `v3-frequency-plans.json`, the channels and RX2
  settings of its YAML file in TheThingsNetwork/lorawan-frequency-plans, with `base-id` resolved as
  lorawan-stack's `pkg/frequencyplans` `FrequencyPlan.Extend` does (a field set in the extension replaces
  the base's). Usage: `extract-band-data.py /path/to/lorawan-frequency-plans` (a checkout of the commit
  named in v3-frequency-plans.json).
- `lorawan-bands.json`: the band parameters the Network Server uses when it builds a device's MAC state
  (`pkg/networkserver/mac/utils.go` NewState), transcribed from lorawan-stack@1d21821 `pkg/band/*.go`
  (the table below names the file of each value), with the PHY versions each band supports
  (`pkg/band/all.go` `All`).

Run `scripts/embed-reference-data.py` afterwards.
"""
import json
import pathlib
import sys

import yaml

root = pathlib.Path(__file__).resolve().parent.parent
data = root / "Sources/ReferenceData/Data"

PHY_ORDER = [
    "TS001_V1_0", "TS001_V1_0_1", "RP001_V1_0_2", "RP001_V1_0_2_REV_B", "RP001_V1_0_3_REV_A",
    "RP001_V1_1_REV_A", "RP001_V1_1_REV_B", "RP002_V1_0_0", "RP002_V1_0_1", "RP002_V1_0_2",
    "RP002_V1_0_3", "RP002_V1_0_4",
]
ALL_VERSIONS = PHY_ORDER
FROM_RP001_102 = PHY_ORDER[2:]
FROM_RP001_102B = PHY_ORDER[3:]


def uniform(first, step, count, min_dr, max_dr):
    return [[first + step * i, min_dr, max_dr] for i in range(count)]


def as923_channels(offset):
    return [[923200000 + offset, 0, 5], [923400000 + offset, 0, 5]]


# Per band: the versions of pkg/band/all.go, and the parameters of the version the migration sends
# (`parameters_version`: RP001_V1_0_2_REV_B where the band has it, else the closest it has; see
# Mapping/BandRules.swift). Channels are [frequency Hz, min DR, max DR].
BANDS = {
    "EU_863_870": dict(
        source="pkg/band/eu_863_870.go, eu_863_870_rp1_v1_0_2_rev_b.go",
        phy_versions=ALL_VERSIONS, parameters_version="RP001_V1_0_2_REV_B", cf_list_type="FREQUENCIES",
        uplink_channels=[[868100000, 0, 5], [868300000, 0, 5], [868500000, 0, 5]],
        downlink_channels=[[868100000, 0, 5], [868300000, 0, 5], [868500000, 0, 5]],
        max_uplink_channels=16, rx2_data_rate_index=0, rx2_frequency=869525000,
        data_rate_indexes=list(range(8)), max_adr_data_rate_index=5, default_max_eirp=16),
    "EU_433": dict(
        source="pkg/band/eu_433.go, eu_433_rp1_v1_0_2_rev_b.go",
        phy_versions=ALL_VERSIONS, parameters_version="RP001_V1_0_2_REV_B", cf_list_type="FREQUENCIES",
        uplink_channels=[[433175000, 0, 5], [433375000, 0, 5], [433575000, 0, 5]],
        downlink_channels=[[433175000, 0, 5], [433375000, 0, 5], [433575000, 0, 5]],
        max_uplink_channels=16, rx2_data_rate_index=0, rx2_frequency=434665000,
        data_rate_indexes=list(range(8)), max_adr_data_rate_index=5, default_max_eirp=12.15),
    "US_902_928": dict(
        source="pkg/band/us_902_928.go, us_902_928_rp1_v1_0_2_rev_b.go",
        phy_versions=ALL_VERSIONS, parameters_version="RP001_V1_0_2_REV_B", cf_list_type="CHANNEL_MASKS",
        uplink_channels=uniform(902300000, 200000, 64, 0, 3) + uniform(903000000, 1600000, 8, 4, 4),
        downlink_channels=uniform(923300000, 600000, 8, 8, 13),
        max_uplink_channels=72, rx2_data_rate_index=8, rx2_frequency=923300000,
        data_rate_indexes=[0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13], max_adr_data_rate_index=3, default_max_eirp=30),
    "AU_915_928": dict(
        source="pkg/band/au_915_928.go, au_915_928_rp1_v1_0_2_rev_b.go",
        phy_versions=["TS001_V1_0_1"] + FROM_RP001_102, parameters_version="RP001_V1_0_2_REV_B",
        cf_list_type="CHANNEL_MASKS",
        uplink_channels=uniform(915200000, 200000, 64, 0, 5) + uniform(915900000, 1600000, 8, 6, 6),
        downlink_channels=uniform(923300000, 600000, 8, 8, 13),
        max_uplink_channels=72, rx2_data_rate_index=8, rx2_frequency=923300000,
        data_rate_indexes=[0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13], max_adr_data_rate_index=5,
        default_max_eirp=30),
    "CN_470_510": dict(
        source="pkg/band/cn_470_510.go, cn_470_510_rp1_v1_0_2_rev_b.go",
        phy_versions=["TS001_V1_0_1", "RP001_V1_0_2", "RP001_V1_0_2_REV_B", "RP001_V1_0_3_REV_A",
                      "RP001_V1_1_REV_A", "RP001_V1_1_REV_B"],
        parameters_version="RP001_V1_0_2_REV_B", cf_list_type="CHANNEL_MASKS",
        uplink_channels=uniform(470300000, 200000, 96, 0, 5),
        downlink_channels=uniform(500300000, 200000, 48, 0, 5),
        max_uplink_channels=96, rx2_data_rate_index=0, rx2_frequency=505300000,
        data_rate_indexes=list(range(6)), max_adr_data_rate_index=5, default_max_eirp=19.15),
    "AS_923": dict(
        source="pkg/band/as_923.go, as_923_rp1_v1_0_2_rev_b.go",
        phy_versions=FROM_RP001_102, parameters_version="RP001_V1_0_2_REV_B", cf_list_type="FREQUENCIES",
        uplink_channels=as923_channels(0), downlink_channels=as923_channels(0),
        max_uplink_channels=16, rx2_data_rate_index=2, rx2_frequency=923200000,
        data_rate_indexes=list(range(8)), max_adr_data_rate_index=5, default_max_eirp=16),
    "AS_923_2": dict(
        source="pkg/band/as_923.go (group 2 offset -1.8 MHz), as_923_rp2_v1_0_1.go",
        phy_versions=["RP002_V1_0_1", "RP002_V1_0_2", "RP002_V1_0_3", "RP002_V1_0_4"],
        parameters_version="RP002_V1_0_1", cf_list_type="FREQUENCIES",
        uplink_channels=as923_channels(-1800000), downlink_channels=as923_channels(-1800000),
        max_uplink_channels=16, rx2_data_rate_index=2, rx2_frequency=921400000,
        data_rate_indexes=list(range(8)), max_adr_data_rate_index=5, default_max_eirp=16),
    "AS_923_3": dict(
        source="pkg/band/as_923.go (group 3 offset -6.6 MHz), as_923_rp2_v1_0_1.go",
        phy_versions=["RP002_V1_0_1", "RP002_V1_0_2", "RP002_V1_0_3", "RP002_V1_0_4"],
        parameters_version="RP002_V1_0_1", cf_list_type="FREQUENCIES",
        uplink_channels=as923_channels(-6600000), downlink_channels=as923_channels(-6600000),
        max_uplink_channels=16, rx2_data_rate_index=2, rx2_frequency=916600000,
        data_rate_indexes=list(range(8)), max_adr_data_rate_index=5, default_max_eirp=16),
    "AS_923_4": dict(
        source="pkg/band/as_923.go (group 4 offset -5.9 MHz), as_923_rp2_v1_0_3.go",
        phy_versions=["RP002_V1_0_3", "RP002_V1_0_4"],
        parameters_version="RP002_V1_0_3", cf_list_type="FREQUENCIES",
        uplink_channels=as923_channels(-5900000), downlink_channels=as923_channels(-5900000),
        max_uplink_channels=16, rx2_data_rate_index=2, rx2_frequency=917300000,
        data_rate_indexes=list(range(8)), max_adr_data_rate_index=5, default_max_eirp=16),
    "KR_920_923": dict(
        source="pkg/band/kr_920_923.go, kr_920_923_rp1_v1_0_2_rev_b.go",
        phy_versions=FROM_RP001_102, parameters_version="RP001_V1_0_2_REV_B", cf_list_type="FREQUENCIES",
        uplink_channels=[[922100000, 0, 5], [922300000, 0, 5], [922500000, 0, 5]],
        downlink_channels=[[922100000, 0, 5], [922300000, 0, 5], [922500000, 0, 5]],
        max_uplink_channels=16, rx2_data_rate_index=0, rx2_frequency=921900000,
        data_rate_indexes=list(range(6)), max_adr_data_rate_index=5, default_max_eirp=14),
    "IN_865_867": dict(
        source="pkg/band/in_865_867.go, in_865_867_rp1_v1_0_2_rev_b.go",
        phy_versions=FROM_RP001_102B, parameters_version="RP001_V1_0_2_REV_B", cf_list_type="FREQUENCIES",
        uplink_channels=[[865062500, 0, 5], [865402500, 0, 5], [865985000, 0, 5]],
        downlink_channels=[[865062500, 0, 5], [865402500, 0, 5], [865985000, 0, 5]],
        max_uplink_channels=16, rx2_data_rate_index=2, rx2_frequency=866550000,
        data_rate_indexes=[0, 1, 2, 3, 4, 5, 7], max_adr_data_rate_index=5, default_max_eirp=30),
    "RU_864_870": dict(
        source="pkg/band/ru_864_870.go, ru_864_870_rp1_v1_0_3_rev_a.go",
        phy_versions=["RP001_V1_0_3_REV_A", "RP001_V1_1_REV_A", "RP001_V1_1_REV_B"] + PHY_ORDER[7:],
        parameters_version="RP001_V1_0_3_REV_A", cf_list_type="FREQUENCIES",
        uplink_channels=[[868900000, 0, 5], [869100000, 0, 5]],
        downlink_channels=[[868900000, 0, 5], [869100000, 0, 5]],
        max_uplink_channels=16, rx2_data_rate_index=0, rx2_frequency=869100000,
        data_rate_indexes=list(range(8)), max_adr_data_rate_index=5, default_max_eirp=16),
    # Bands with one set of parameters for every version ("Universal"); their MAC parameters are not
    # transcribed: a carried session on them gets no MAC state (warning `device-mac-state-not-derived`).
    "MA_869_870_DRAFT": dict(source="pkg/band/ma_869_870_draft.go", phy_versions=ALL_VERSIONS),
    "ISM_2400": dict(source="pkg/band/ism_2400.go", phy_versions=ALL_VERSIONS),
}


def channels(entries):
    return [[c["frequency"], c.get("min-data-rate", 0), c.get("max-data-rate", 0)] for c in entries or []]


def extract_plans(checkout):
    listing = json.loads((data / "v3-frequency-plans.json").read_text())
    raw = {}
    for plan in listing["plans"]:
        raw[plan["id"]] = yaml.safe_load((checkout / plan["file"]).read_text()) or {}

    def resolved(plan):
        fields = {}
        if plan["base_id"]:
            fields = dict(resolved(next(p for p in listing["plans"] if p["id"] == plan["base_id"])))
        own = raw[plan["id"]]
        for key in ("band-id", "uplink-channels", "downlink-channels", "lora-standard-channel", "rx2-channel",
                    "rx2-default-data-rate", "dwell-time", "max-eirp"):
            value = own.get(key)
            if value is None or value == [] or value == {}:
                continue
            fields[key] = value
        return fields

    plans = {}
    for plan in listing["plans"]:
        fields = resolved(plan)
        entry = {
            "band_id": fields.get("band-id", plan["band_id"]),
            "uplink_channels": channels(fields.get("uplink-channels")),
            "downlink_channels": channels(fields.get("downlink-channels")),
        }
        if "lora-standard-channel" in fields:
            entry["lora_standard_channel"] = fields["lora-standard-channel"]["frequency"]
        if "rx2-channel" in fields:
            entry["rx2_frequency"] = fields["rx2-channel"]["frequency"]
        if "rx2-default-data-rate" in fields:
            entry["rx2_default_data_rate"] = fields["rx2-default-data-rate"]
        plans[plan["id"]] = entry
    return {"_source": listing["_source"].split(" frequency-plans.yml")[0] + " (plan YAML files, base-id resolved)",
            "plans": plans}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: extract-band-data.py /path/to/lorawan-frequency-plans")
    plans = extract_plans(pathlib.Path(sys.argv[1]))
    (data / "lorawan-frequency-plan-channels.json").write_text(json.dumps(plans, indent=1) + "\n")
    bands = {"_source": "TheThingsNetwork/lorawan-stack@1d21821 pkg/band (all.go for phy_versions)",
             "phy_version_order": PHY_ORDER, "bands": BANDS}
    (data / "lorawan-bands.json").write_text(json.dumps(bands, indent=1) + "\n")


main()
