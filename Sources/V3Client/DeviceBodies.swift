import V3Model

// The end devices of the four registries written with `JSONObjectWriter`: the same members, names and
// forms as their `Encodable` conformances in `V3Model` (`DeviceBodyWritingTests` holds the two equal),
// never redacted, since these are the bodies sent to v3.

extension V3ApplicationIdentifiers: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.string("application_id", applicationID)
    }
}

extension V3EndDeviceIdentifiers: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.string("device_id", deviceID)
        writer.object("application_ids", applicationIDs)
        writer.string("dev_eui", devEUI?.hex)
        writer.string("join_eui", joinEUI?.hex)
    }
}

extension V3Location: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.number("latitude", latitude)
        writer.number("longitude", longitude)
        writer.integer("altitude", altitude)
        writer.integer("accuracy", accuracy)
        writer.string("source", source?.rawValue)
    }
}

extension V3ISEndDevice: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.object("ids", ids)
        writer.string("name", name)
        writer.string("description", description)
        writer.stringMap("attributes", attributes)
        writer.objectMap("locations", locations)
        writer.string("join_server_address", joinServerAddress)
        writer.string("network_server_address", networkServerAddress)
        writer.string("application_server_address", applicationServerAddress)
    }
}

extension V3KeyEnvelope: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.string("key", key?.hex)
    }
}

extension V3RootKeys: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.object("app_key", appKey)
    }
}

extension V3JSEndDevice: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.object("ids", ids)
        writer.string("network_server_address", networkServerAddress)
        writer.string("application_server_address", applicationServerAddress)
        writer.object("root_keys", rootKeys)
    }
}

extension V3MACSettings: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.bool("resets_f_cnt", resetsFCnt)
        writer.bool("supports_32_bit_f_cnt", supports32BitFCnt)
        writer.integer("rx1_delay", rx1Delay)
        writer.integer("rx2_data_rate_index", rx2DataRateIndex)
        writer.decimalString("rx2_frequency", rx2Frequency)
        writer.decimalStrings("factory_preset_frequencies", factoryPresetFrequencies)
        writer.string("status_time_periodicity", statusTimePeriodicity)
        writer.integer("status_count_periodicity", statusCountPeriodicity)
    }
}

extension V3NSSessionKeys: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.string("session_key_id", sessionKeyID)
        writer.object("f_nwk_s_int_key", fNwkSIntKey)
    }
}

extension V3NSSession: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.string("dev_addr", devAddr?.hex)
        writer.object("keys", keys)
        writer.integer("last_f_cnt_up", lastFCntUp)
        writer.integer("last_n_f_cnt_down", lastNFCntDown)
        writer.string("started_at", startedAt)
    }
}

extension V3MACChannel: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.decimalString("uplink_frequency", uplinkFrequency)
        writer.decimalString("downlink_frequency", downlinkFrequency)
        writer.integer("min_data_rate_index", minDataRateIndex)
        writer.integer("max_data_rate_index", maxDataRateIndex)
        writer.bool("enable_uplink", enableUplink)
    }
}

extension V3MACParameters: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.number("max_eirp", maxEIRP)
        writer.integer("adr_nb_trans", adrNbTrans)
        writer.integer("rx1_delay", rx1Delay)
        writer.integer("rx2_data_rate_index", rx2DataRateIndex)
        writer.decimalString("rx2_frequency", rx2Frequency)
        writer.objects("channels", channels)
    }
}

extension V3MACState: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.object("current_parameters", currentParameters)
        writer.object("desired_parameters", desiredParameters)
        writer.string("device_class", deviceClass)
        writer.string("lorawan_version", lorawanVersion.rawValue)
    }
}

extension V3NSEndDevice: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.object("ids", ids)
        writer.string("frequency_plan_id", frequencyPlanID)
        writer.string("lorawan_version", lorawanVersion?.rawValue)
        writer.string("lorawan_phy_version", lorawanPHYVersion?.rawValue)
        writer.bool("supports_join", supportsJoin)
        writer.object("mac_settings", macSettings)
        writer.object("session", session)
        writer.object("mac_state", macState)
    }
}

extension V3ASSession.Keys: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.object("app_s_key", appSKey)
        writer.string("session_key_id", sessionKeyID)
    }
}

extension V3ASSession: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.string("dev_addr", devAddr?.hex)
        writer.object("keys", keys)
        writer.integer("last_a_f_cnt_down", lastAFCntDown)
    }
}

extension V3ASEndDevice: JSONMembersWritable {
    public func writeMembers(to writer: inout JSONObjectWriter) {
        writer.object("ids", ids)
        writer.object("session", session)
        writer.bool("skip_payload_crypto", skipPayloadCrypto)
    }
}
