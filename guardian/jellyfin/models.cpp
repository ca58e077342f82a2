#include "jellyfin/models.h"

#include <algorithm>
#include <cctype>

namespace guardian::jellyfin {
namespace {

using nlohmann::json;

std::string type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    default: return "something else";
  }
}

// Walks one object, reporting the first type error with its full field path.
class Reader {
 public:
  Reader(std::string_view endpoint, std::string path) : endpoint_(endpoint), path_(std::move(path)) {}

  [[nodiscard]] bool failed() const { return error_.has_value(); }
  [[nodiscard]] Error error() const { return *error_; }

  const json* field(const json& object, std::string_view name, bool (json::*is)() const,
                    std::string_view expected) {
    if (failed()) return nullptr;
    auto it = object.find(name);
    if (it == object.end() || it->is_null()) return nullptr;
    if (!((*it).*is)()) {
      fail(name, "expected " + std::string(expected) + ", got " + type_name(*it));
      return nullptr;
    }
    return &*it;
  }
  void string(const json& object, std::string_view name, std::string& into) {
    if (const json* v = field(object, name, &json::is_string, "a string")) into = v->get<std::string>();
  }
  void boolean(const json& object, std::string_view name, bool& into) {
    if (const json* v = field(object, name, &json::is_boolean, "a boolean")) into = v->get<bool>();
  }
  void integer(const json& object, std::string_view name, std::optional<int64_t>& into) {
    if (const json* v = field(object, name, &json::is_number, "a number")) {
      double d = v->get<double>();
      if (!(d > -9.2e18 && d < 9.2e18)) {
        fail(name, "number out of range");
        return;
      }
      into = v->is_number_float() ? static_cast<int64_t>(d) : v->get<int64_t>();
    }
  }
  void number(const json& object, std::string_view name, std::optional<double>& into) {
    if (const json* v = field(object, name, &json::is_number, "a number")) into = v->get<double>();
  }
  void fail(std::string_view name, const std::string& what) {
    if (!error_)
      error_ = make_error(std::string(endpoint_) + ": " + path_ + (path_.empty() ? "" : ".") +
                          std::string(name) + ": " + what);
  }

 private:
  std::string_view endpoint_;
  std::string path_;
  std::optional<Error> error_;
};

Result<json> parse_json(std::string_view body, std::string_view endpoint) {
  json value = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    std::string start(body.substr(0, 40));
    std::replace_if(
        start.begin(), start.end(), [](char c) { return !std::isprint(static_cast<unsigned char>(c)); }, '?');
    return make_error(std::string(endpoint) + ": not JSON (starts with \"" + start + "\")");
  }
  return value;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

std::string EncodingOptions::hardware_acceleration_type() const {
  auto it = raw.find("HardwareAccelerationType");
  if (it == raw.end() || !it->is_string()) return "none";
  std::string type = lower(it->get<std::string>());
  return type.empty() ? "none" : type;
}

bool EncodingOptions::enable_hardware_encoding() const {
  auto it = raw.find("EnableHardwareEncoding");
  return it != raw.end() && it->is_boolean() ? it->get<bool>() : true;  // Jellyfin's default: true
}

std::vector<std::string> EncodingOptions::hardware_decoding_codecs() const {
  std::vector<std::string> codecs;
  auto it = raw.find("HardwareDecodingCodecs");
  if (it == raw.end() || !it->is_array()) return codecs;
  for (const auto& c : *it) {
    if (c.is_string()) codecs.push_back(c.get<std::string>());
  }
  return codecs;
}

std::string EncodingOptions::vaapi_device() const {
  auto it = raw.find("VaapiDevice");
  return it != raw.end() && it->is_string() ? it->get<std::string>() : "/dev/dri/renderD128";
}

std::string EncodingOptions::encoder_preset() const {
  auto it = raw.find("EncoderPreset");
  return it != raw.end() && it->is_string() ? it->get<std::string>() : "";
}

Result<EncodingOptions> parse_encoding_options(std::string_view body, std::string_view endpoint) {
  auto value = parse_json(body, endpoint);
  if (!value.ok()) return value.error();
  if (!value->is_object())
    return make_error(std::string(endpoint) + ": expected an object, got " + type_name(*value));
  // Check the types of every field guardian reads or writes, so a lying server is caught before
  // guardian POSTs anything derived from it.
  Reader reader(endpoint, "");
  const json& object = *value;
  std::string s;
  bool b = false;
  std::optional<int64_t> i;
  reader.string(object, "HardwareAccelerationType", s);
  reader.string(object, "VaapiDevice", s);
  reader.string(object, "EncoderPreset", s);
  reader.boolean(object, "EnableHardwareEncoding", b);
  reader.boolean(object, "EnableThrottling", b);
  reader.boolean(object, "EnableSegmentDeletion", b);
  reader.integer(object, "EncodingThreadCount", i);
  reader.integer(object, "H264Crf", i);
  reader.integer(object, "H265Crf", i);
  reader.integer(object, "MaxMuxingQueueSize", i);
  reader.integer(object, "SegmentKeepSeconds", i);
  if (const json* codecs = reader.field(object, "HardwareDecodingCodecs", &json::is_array, "an array")) {
    for (size_t n = 0; n < codecs->size(); ++n) {
      if (!(*codecs)[n].is_string()) {
        reader.fail("HardwareDecodingCodecs[" + std::to_string(n) + "]",
                    "expected a string, got " + type_name((*codecs)[n]));
      }
    }
  }
  if (reader.failed()) return reader.error();
  return EncodingOptions{std::move(*value)};
}

// Jellyfin's list endpoints answer a JSON array of objects: parses the body, checks both shapes,
// and hands each object with its "[n]" location to parse_item, stopping at the first error.
template <class T, class ParseItem>
Result<std::vector<T>> parse_object_array(std::string_view body, std::string_view endpoint,
                                          ParseItem parse_item) {
  auto value = parse_json(body, endpoint);
  if (!value.ok()) return value.error();
  if (!value->is_array())
    return make_error(std::string(endpoint) + ": expected an array, got " + type_name(*value));
  std::vector<T> items;
  items.reserve(value->size());
  for (size_t n = 0; n < value->size(); ++n) {
    const json& item = (*value)[n];
    const std::string where = "[" + std::to_string(n) + "]";
    if (!item.is_object())
      return make_error(std::string(endpoint) + ": " + where + ": expected an object, got " +
                        type_name(item));
    Result<T> parsed = parse_item(item, where);
    if (!parsed.ok()) return parsed.error();
    items.push_back(std::move(parsed.value()));
  }
  return items;
}

Result<std::vector<SessionInfo>> parse_sessions(std::string_view body, std::string_view endpoint) {
  return parse_object_array<SessionInfo>(
      body, endpoint, [&](const json& item, const std::string& where) -> Result<SessionInfo> {
        Reader r(endpoint, where);
        SessionInfo s;
        r.string(item, "Id", s.id);
        r.string(item, "UserId", s.user_id);
        r.string(item, "UserName", s.user_name);
        r.string(item, "Client", s.client);
        r.string(item, "DeviceName", s.device_name);
        r.string(item, "DeviceId", s.device_id);
        r.boolean(item, "IsActive", s.is_active);
        r.boolean(item, "SupportsRemoteControl", s.supports_remote_control);
        if (const json* state = r.field(item, "PlayState", &json::is_object, "an object")) {
          Reader rs(endpoint, where + ".PlayState");
          rs.boolean(*state, "IsPaused", s.is_paused);
          if (rs.failed()) return rs.error();
        }
        if (const json* now = r.field(item, "NowPlayingItem", &json::is_object, "an object")) {
          Reader rn(endpoint, where + ".NowPlayingItem");
          std::string id;
          rn.string(*now, "Id", id);
          rn.string(*now, "Name", s.now_playing_name);
          rn.string(*now, "Path", s.now_playing_path);
          if (rn.failed()) return rn.error();
          s.now_playing_id = id;
        }
        if (const json* t = r.field(item, "TranscodingInfo", &json::is_object, "an object")) {
          Reader rt(endpoint, where + ".TranscodingInfo");
          TranscodingInfo info;
          rt.string(*t, "VideoCodec", info.video_codec);
          rt.string(*t, "AudioCodec", info.audio_codec);
          rt.string(*t, "Container", info.container);
          rt.boolean(*t, "IsVideoDirect", info.is_video_direct);
          rt.boolean(*t, "IsAudioDirect", info.is_audio_direct);
          rt.integer(*t, "Bitrate", info.bitrate);
          rt.integer(*t, "Width", info.width);
          rt.integer(*t, "Height", info.height);
          rt.number(*t, "CompletionPercentage", info.completion_percentage);
          rt.string(*t, "HardwareAccelerationType", info.hardware_acceleration_type);
          info.hardware_acceleration_type = lower(info.hardware_acceleration_type);
          // An array of enum names in 10.10+; older servers wrote one comma-separated string.
          auto reasons = t->find("TranscodeReasons");
          if (reasons != t->end() && reasons->is_array()) {
            for (const auto& reason : *reasons) {
              if (!reason.is_string()) {
                rt.fail("TranscodeReasons", "expected strings in the array, got " + type_name(reason));
                break;
              }
              info.transcode_reasons.push_back(reason.get<std::string>());
            }
          } else if (reasons != t->end() && reasons->is_string()) {
            std::string_view list = reasons->get_ref<const std::string&>();
            while (!list.empty()) {
              auto comma = list.find(',');
              std::string_view one = list.substr(0, comma);
              while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
              if (!one.empty()) info.transcode_reasons.emplace_back(one);
              list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
            }
          } else if (reasons != t->end() && !reasons->is_null()) {
            rt.fail("TranscodeReasons", "expected an array, got " + type_name(*reasons));
          }
          if (rt.failed()) return rt.error();
          s.transcoding = std::move(info);
        }
        if (r.failed()) return r.error();
        return s;
      });
}

Result<std::vector<ScheduledTask>> parse_scheduled_tasks(std::string_view body, std::string_view endpoint) {
  return parse_object_array<ScheduledTask>(
      body, endpoint, [&](const json& item, const std::string& where) -> Result<ScheduledTask> {
        Reader r(endpoint, where);
        ScheduledTask task;
        r.string(item, "Id", task.id);
        r.string(item, "Name", task.name);
        r.string(item, "Key", task.key);
        r.string(item, "Category", task.category);
        r.string(item, "State", task.state);
        r.boolean(item, "IsHidden", task.is_hidden);
        r.number(item, "CurrentProgressPercentage", task.progress_percent);
        if (r.failed()) return r.error();
        if (task.id.empty()) return make_error(std::string(endpoint) + ": " + where + ".Id: missing");
        return task;
      });
}

}  // namespace guardian::jellyfin
