#pragma once
// One reader per format. Each takes the whole file's text and returns the recording as the
// tool wrote it (t since the first time stamp, columns in soak's names and units); the caller
// sorts, drops empty columns and checks that something is left. Each throws ImportError
// (text::fail) when the file is not its format or holds nothing usable.

#include <string>
#include <string_view>

#include "soak/importers/recording.hpp"

namespace soak::importers::readers {

Recording csv(std::string_view text, const std::string& file, const CsvOptions& options);
Recording psrecord(std::string_view text, const std::string& file);
Recording mprof(std::string_view text, const std::string& file);
Recording perfmon(std::string_view text, const std::string& file);
Recording dotnet_counters(std::string_view text, const std::string& file);
Recording prometheus(std::string_view text, const std::string& file);

}  // namespace soak::importers::readers
