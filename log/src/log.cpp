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
  char buf[32];
  std::to_chars_result r;
  if (value == std::floor(value) && std::fabs(value) < 9.0e15) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(value));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, value);
  }
  out.append(buf, r.ptr);
}

std::string errno_text(int err) {
  return std::strerror(err);
}

}  // namespace

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

SampleWriter::SampleWriter(const std::filesystem::path& path, const nlohmann::ordered_json& header)
    : path_(path) {
  fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
  if (!fd_) {
    throw LogError("cannot create " + path.string() + ": " + errno_text(errno));
  }
  line_.reserve(1024);
  // Invalid UTF-8 from a target's command line is replaced, never a reason to fail.
  line_ = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (!write_line()) {
    const int error = error_number_;
    fd_.reset();
    ::unlink(path.c_str());  // nothing was recorded: leave nothing that blocks a retry
    throw LogWriteError("cannot write " + path.string() + ": " + errno_text(error) +
                        "; free some space (or choose another --out) and retry");
  }
}

SampleWriter::~SampleWriter() {
  if (fd_) ::fdatasync(fd_.get());
}

bool SampleWriter::write_line() {
  line_.push_back('\n');
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
  if (observer_) observer_(std::string_view(line_).substr(0, line_.size() - 1));
  return true;
}

void SampleWriter::begin_sample(double t, std::string_view process) {
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
