// File helpers shared by every module that persists data.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tessera {

// Crash-safe replace: writes `path.tmp.<pid>`, fsyncs it, renames it over `path`, then
// fsyncs the directory. After a crash `path` holds either the old or the new contents.
// `mode` is applied to the temporary file before any byte is written.
Status write_file_atomic(const std::filesystem::path& path, std::string_view contents,
                         unsigned mode = 0644);

// The first half of it: `tmp` created (or truncated) with `mode`, written and fsynced; it
// is removed again if any step fails. Renaming it into place (and fsyncing the directory)
// publishes it.
Status write_file_synced(const std::filesystem::path& tmp, std::string_view contents, unsigned mode = 0644);
Result<std::string> read_file(const std::filesystem::path& path);

// A node-local state file that must not be trusted when damaged: `kind` (a short tag such
// as "tessera-miner-state/1"), the body's length and its BLAKE2b-256 precede the body.
// write_sealed_file is atomic; read_sealed_file returns NotFound when the file is absent
// and Corrupted (naming the file and what failed) when the tag, length or hash differ.
Status write_sealed_file(const std::filesystem::path& path, std::string_view kind, std::string_view body);
Result<std::string> read_sealed_file(const std::filesystem::path& path, std::string_view kind);

// The description of the current errno, for error messages of failed system calls.
std::string errno_text();

// fsync of a directory, so that a rename inside it is durable.
Status fsync_directory(const std::filesystem::path& dir);

}  // namespace tessera
