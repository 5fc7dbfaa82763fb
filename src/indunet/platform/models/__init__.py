"""Information models: device types as data (YAML, JSON, AAS), validated telemetry and a data dictionary."""

from indunet.platform.models.aas import MAX_AAS_BYTES, from_aas_json, to_aas_json
from indunet.platform.models.dictionary import data_dictionary, dictionary_csv
from indunet.platform.models.io import (
    MAX_MODEL_BYTES,
    builtin_types,
    dump_json,
    load_device_type,
    validate_device_type,
)
from indunet.platform.models.schema import (
    Access,
    Attribute,
    Command,
    DataType,
    DeviceType,
    Param,
    Point,
)
from indunet.platform.models.validate import (
    NOT_FINITE,
    OUT_OF_RANGE,
    TOO_LONG,
    UNKNOWN_POINT,
    WRONG_TYPE,
    PointRejected,
    Validator,
    compile_validator,
    decode,
)

__all__ = [
    "MAX_AAS_BYTES",
    "MAX_MODEL_BYTES",
    "NOT_FINITE",
    "OUT_OF_RANGE",
    "TOO_LONG",
    "UNKNOWN_POINT",
    "WRONG_TYPE",
    "Access",
    "Attribute",
    "Command",
    "DataType",
    "DeviceType",
    "Param",
    "Point",
    "PointRejected",
    "Validator",
    "builtin_types",
    "compile_validator",
    "data_dictionary",
    "decode",
    "dictionary_csv",
    "dump_json",
    "from_aas_json",
    "load_device_type",
    "to_aas_json",
    "validate_device_type",
]
