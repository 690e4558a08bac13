#include "soak/log/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "soak/log/run_dir.hpp"
#include "soak/log/run_log_builder.hpp"

namespace soak::log {

namespace {

void append_number(std::string& out, double value) {
  append_json_number(out, value);
}

std::string errno_text(int err) {
  return std::strerror(err);
}

}  // namespace

void append_json_number(std::string& out, double value) {
  char buf[32];
  std::to_chars_result r;
  if (value == std::floor(value) && std::fabs(value) < 9.0e15) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(value));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, value);
  }
  out.append(buf, r.ptr);
}

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
          out += esc;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

SampleWriter::SampleWriter(const std::filesystem::path& path, const nlohmann::ordered_json& header,
                           SegmentOptions segments)
    : path_(path), segments_(segments) {
  fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
  if (!fd_) {
    throw LogError("cannot create " + path.string() + ": " + errno_text(errno));
  }
  line_.reserve(1024);
  // Invalid UTF-8 from a target's command line is replaced, never a reason to fail.
  line_ = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  header_text_ = line_;
  if (!write_raw(header_text_)) {
    const int error = error_number_;
    fd_.reset();
    ::unlink(path.c_str());  // nothing was recorded: leave nothing that blocks a retry
    throw LogWriteError("cannot write " + path.string() + ": " + errno_text(error) +
                        "; free some space (or choose another --out) and retry");
  }
  if (segments_.segment_bytes > 0) keeper_ = std::make_unique<SegmentKeeper>(path_, segments_);
}

SampleWriter::~SampleWriter() {
  if (keeper_) {
    keeper_->settle();
    write_keeper_events();
    keeper_.reset();
  }
  if (fd_) ::fdatasync(fd_.get());
}

void SampleWriter::settle_segments() {
  if (!keeper_) return;
  keeper_->settle();
  write_keeper_events();
}

/// Writes `bytes` and a newline in one write(2) (a retry on a short write).
bool SampleWriter::write_raw(std::string_view bytes) {
  line_.assign(bytes);
  line_.push_back('\n');
  return write_buffer();
}

/// Writes line_ (ending in its newline) whole; false, with error_number(), when it failed.
bool SampleWriter::write_buffer() {
  std::size_t done = 0;
  while (done < line_.size()) {
    const ssize_t n = ::write(fd_.get(), line_.data() + done, line_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (error_number_ == 0) error_number_ = errno;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  bytes_written_ += done;
  return true;
}

bool SampleWriter::write_line() {
  if (keeper_ && segments_.segment_bytes > 0 && segment_bytes_ > 0 &&
      (segment_bytes_ + line_.size() >= segments_.segment_bytes ||
       (segments_.segment_s > 0 && line_t_ - segment_first_t_ >= segments_.segment_s))) {
    rotate();
  }
  line_.push_back('\n');
  if (!write_buffer()) return false;
  const std::size_t done = line_.size();
  if (keeper_) {
    if (segment_bytes_ == 0) segment_first_t_ = line_t_;
    segment_bytes_ += done;
    segment_last_t_ = line_t_;
    keeper_->now(line_t_);
  }
  if (observer_) observer_(std::string_view(line_).substr(0, line_.size() - 1));
  return true;
}

/// Closes the active segment into samples.d/ and starts a new samples.ndjson with the header:
/// link, write the new file beside, rename over (segments.hpp). Any failure leaves the active
/// file as it was and stops closing segments, with an event that says why.
void SampleWriter::rotate() {
  const std::uint64_t index = segment_index_ + 1;
  const std::filesystem::path closed = closed_segment_path(path_, index);
  const std::filesystem::path next = path_.string() + ".next";
  std::error_code ec;
  std::filesystem::create_directory(closed.parent_path(), ec);
  std::string why;
  UniqueFd fd;
  if (::link(path_.c_str(), closed.c_str()) != 0) {
    why = "cannot link " + closed.string() + ": " + errno_text(errno);
  } else {
    auto header = nlohmann::ordered_json::parse(header_text_, nullptr, false);
    header["segment"] = index;
    std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text.push_back('\n');
    fd.reset(::open(next.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
    if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::rename(next.c_str(), path_.c_str()) != 0) {
      why = "cannot start a new " + path_.string() + ": " + errno_text(errno);
      ::unlink(next.c_str());
      ::unlink(closed.c_str());
    } else {
      bytes_written_ += text.size();
    }
  }
  if (!why.empty()) {
    segments_.segment_bytes = 0;  // stop trying: the log goes on in one file
    keeper_->note({"log_segment_kept", "the log stays in one file: " + why, {}});
    return;
  }
  ::fdatasync(fd_.get());
  fd_ = std::move(fd);
  segment_index_ = index;
  keeper_->closed(index, segment_first_t_, segment_last_t_);
  segment_bytes_ = 0;
}

/// Writes what the keeper asked to log, at the time of the line being written.
void SampleWriter::write_keeper_events() {
  if (!keeper_ || writing_keeper_events_) return;
  writing_keeper_events_ = true;
  const double t = line_t_;
  for (auto& e : keeper_->take_events()) {
    nlohmann::json extra = nlohmann::json::object();
    if (!e.fields_json.empty()) {
      extra = nlohmann::json::parse("{" + e.fields_json + "}", nullptr, false);
      if (!extra.is_object()) extra = nlohmann::json::object();
    }
    event(t, e.kind, e.detail, extra);
  }
  writing_keeper_events_ = false;
}

void SampleWriter::start_line(double t) {
  if (keeper_ && !writing_keeper_events_ && keeper_->has_events()) write_keeper_events();
  line_t_ = t;
}

void SampleWriter::begin_sample(double t, std::string_view process) {
  start_line(t);
  line_.assign(R"({"type":"sample","t":)");
  append_number(line_, std::round(t * 1e6) / 1e6);
  if (!process.empty()) {
    line_ += ",\"";
    line_ += kProcessKey;
    line_ += "\":";
    append_json_string(line_, process);
  }
}

void SampleWriter::metric(std::string_view name, double value) {
  if (!std::isfinite(value)) return;  // absent means "not measured"; JSON has no NaN
  line_.push_back(',');
  append_json_string(line_, name);
  line_.push_back(':');
  append_number(line_, value);
}

bool SampleWriter::end_sample() {
  line_.push_back('}');
  return write_line();
}

bool SampleWriter::event(double t, std::string_view kind, std::string_view detail,
                         const nlohmann::json& extra) {
  start_line(t);
  line_.assign(R"({"type":"event","t":)");
  append_number(line_, std::round(t * 1e6) / 1e6);
  line_ += R"(,"kind":)";
  append_json_string(line_, kind);
  line_ += R"(,"detail":)";
  append_json_string(line_, detail);
  if (extra.is_object()) {
    for (const auto& [key, value] : extra.items()) {
      line_.push_back(',');
      append_json_string(line_, key);
      line_.push_back(':');
      line_ += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  line_.push_back('}');
  return write_line();
}

bool SampleWriter::sync() {
  if (::fdatasync(fd_.get()) != 0) {
    if (error_number_ == 0) error_number_ = errno;
    return false;
  }
  return true;
}

std::filesystem::path resolve_log_path(const std::filesystem::path& run) {
  std::error_code ec;
  if (std::filesystem::is_directory(run, ec)) return run / samples_file;
  return run;
}

RunLog read_run_log(const std::filesystem::path& run) {
  const std::filesystem::path path = resolve_log_path(run);
  RunLogBuilder builder(path);
  read_log_into(path, builder);
  return std::move(builder).finish();
}

}  // namespace soak::log
