"""The platform pillar: devices, information models, twins, telemetry, rules, alarms and RPC."""
