"""EncodingOptions as Jellyfin 10.10/10.11 stores them: 47 fields, the constructor's defaults for
any field a POST leaves out (whole-object semantics), enums as their names.

Source: jellyfin/jellyfin v10.11.x MediaBrowser.Model/Configuration/EncodingOptions.cs (fields and
constructor), MediaBrowser.Model/Entities/*.cs (enums), Jellyfin.Api ConfigurationController
UpdateNamedConfiguration (the body is deserialised into a new EncodingOptions and saved whole).
The field list is the one @jellyfin/sdk 0.11.0 / 0.12.0 generate (tests/support/fake_jellyfin's
fixtures are checked against it).
"""
import json

ENUMS = {
    "HardwareAccelerationType": ["none", "amf", "qsv", "nvenc", "v4l2m2m", "vaapi", "videotoolbox", "rkmpp"],
    "DownMixStereoAlgorithm": ["None", "Dave750", "NightmodeDialogue", "Rfc7845", "Ac4"],
    "TonemappingAlgorithm": ["none", "clip", "linear", "gamma", "reinhard", "hable", "mobius", "bt2390"],
    "TonemappingMode": ["auto", "max", "rgb", "lum", "itp"],
    "TonemappingRange": ["auto", "tv", "pc"],
    "DeinterlaceMethod": ["yadif", "bwdif"],
    "EncoderPreset": ["auto", "placebo", "veryslow", "slower", "slow", "medium", "fast", "faster", "veryfast",
                      "superfast", "ultrafast"],
}
# Nullable in the C# model (EncoderPreset? and the reference types).
NULLABLE = {"EncoderPreset", "TranscodingTempPath", "FallbackFontPath", "EncoderAppPath", "EncoderAppPathDisplay",
            "VaapiDevice", "QsvDevice", "HardwareDecodingCodecs",
            "AllowOnDemandMetadataBasedKeyframeExtractionForExtensions"}

# field -> (type, constructor default), in the model's declaration order.
FIELDS = {
    "EncodingThreadCount": ("int", -1),
    "TranscodingTempPath": ("string", None),
    "FallbackFontPath": ("string", None),
    "EnableFallbackFont": ("bool", False),
    "EnableAudioVbr": ("bool", False),
    "DownMixAudioBoost": ("double", 2),
    "DownMixStereoAlgorithm": ("enum", "None"),
    "MaxMuxingQueueSize": ("int", 2048),
    "EnableThrottling": ("bool", False),
    "ThrottleDelaySeconds": ("int", 180),
    "EnableSegmentDeletion": ("bool", False),
    "SegmentKeepSeconds": ("int", 720),
    "HardwareAccelerationType": ("enum", "none"),
    "EncoderAppPath": ("string", None),
    "EncoderAppPathDisplay": ("string", None),
    "VaapiDevice": ("string", "/dev/dri/renderD128"),
    "QsvDevice": ("string", ""),
    "EnableTonemapping": ("bool", False),
    "EnableVppTonemapping": ("bool", False),
    "EnableVideoToolboxTonemapping": ("bool", False),
    "TonemappingAlgorithm": ("enum", "bt2390"),
    "TonemappingMode": ("enum", "auto"),
    "TonemappingRange": ("enum", "auto"),
    "TonemappingDesat": ("double", 0),
    "TonemappingPeak": ("double", 100),
    "TonemappingParam": ("double", 0),
    "VppTonemappingBrightness": ("double", 16),
    "VppTonemappingContrast": ("double", 1),
    "H264Crf": ("int", 23),
    "H265Crf": ("int", 28),
    "EncoderPreset": ("enum", None),
    "DeinterlaceDoubleRate": ("bool", False),
    "DeinterlaceMethod": ("enum", "yadif"),
    "EnableDecodingColorDepth10Hevc": ("bool", True),
    "EnableDecodingColorDepth10Vp9": ("bool", True),
    "EnableDecodingColorDepth10HevcRext": ("bool", False),
    "EnableDecodingColorDepth12HevcRext": ("bool", False),
    "EnableEnhancedNvdecDecoder": ("bool", True),
    "PreferSystemNativeHwDecoder": ("bool", True),
    "EnableIntelLowPowerH264HwEncoder": ("bool", False),
    "EnableIntelLowPowerHevcHwEncoder": ("bool", False),
    "EnableHardwareEncoding": ("bool", True),
    "AllowHevcEncoding": ("bool", False),
    "AllowAv1Encoding": ("bool", False),
    "EnableSubtitleExtraction": ("bool", True),
    "HardwareDecodingCodecs": ("strings", ["h264", "vc1"]),
    "AllowOnDemandMetadataBasedKeyframeExtractionForExtensions": ("strings", ["mkv"]),
}


class BadOptions(ValueError):
    """A body Jellyfin's System.Text.Json deserialiser would refuse (HTTP 400)."""


def defaults():
    return {k: (list(d) if isinstance(d, list) else d) for k, (_, d) in FIELDS.items()}


def _convert(field, kind, value):
    where = f"$.{field}"
    if value is None:
        if field in NULLABLE:
            return None
        raise BadOptions(f"{where}: the JSON value could not be converted (null for a non-nullable {kind})")
    if kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "int":
        # JsonNumberHandling.AllowReadingFromString (Jellyfin's JsonDefaults).
        if isinstance(value, str):
            try:
                value = int(value, 10)
            except ValueError:
                raise BadOptions(f"{where}: \"{value}\" is not an integer") from None
        if isinstance(value, int) and not isinstance(value, bool) and -2**31 <= value < 2**31:
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind == "double":
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise BadOptions(f"{where}: \"{value}\" is not a number") from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    elif kind == "string":
        if isinstance(value, str):
            return value
    elif kind == "strings":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    elif kind == "enum":
        names = ENUMS[field]
        if isinstance(value, str):
            for n in names:  # JsonStringEnumConverter: names, case-insensitive
                if n.lower() == value.lower():
                    return n
            raise BadOptions(f"{where}: \"{value}\" is not one of {', '.join(names)}")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            return names[value]
    raise BadOptions(f"{where}: the JSON value could not be converted to {kind}")


def from_posted(body):
    """The EncodingOptions Jellyfin saves for a POSTed body: every field the body has (names
    case-insensitive, unknown ones ignored), the constructor's default for every other one."""
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise BadOptions(f"the body is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise BadOptions("the body is not a JSON object")
    by_lower = {k.lower(): k for k in FIELDS}
    result = defaults()
    for key, value in doc.items():
        field = by_lower.get(key.lower())
        if field is None:
            continue
        result[field] = _convert(field, FIELDS[field][0], value)
    return result


def normalised(doc):
    """A stored or fixture object brought to the model (same rules as a POST)."""
    return from_posted(json.dumps({k: v for k, v in doc.items() if k != "_comment"}))
