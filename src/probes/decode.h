// Decode: raw perf-buffer bytes -> validated events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "common/net.h"

namespace pidtree {

struct ConnectEvent {
  uint64_t ts_boot_ns = 0;
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint32_t uid = 0;
  Family family = Family::kIpv4;
  IpAddress saddr;
  IpAddress daddr;
  uint16_t sport = 0;
  uint16_t dport = 0;
  std::string comm;
};

// nullopt for a record that is too short, of an unknown kind or family.
std::optional<ConnectEvent> decode_connect_event(const void *data, size_t size);

// A change to the process table: fork, exec, exit or uid change.
struct ProcEvent {
  enum class Kind { kFork, kExec, kExit, kUid };
  Kind kind = Kind::kFork;
  uint64_t ts_boot_ns = 0;
  uint32_t pid = 0;
  uint32_t ppid = 0;          // kFork
  uint32_t uid = 0;           // kFork, kExec, kUid
  bool clone_parent = false;  // kFork: the parent is ppid's parent
  std::string cmdline;        // kExec: argv joined by spaces
  bool argv_missing = false;  // kExec: cmdline is only the filename
};

using Event = std::variant<ConnectEvent, ProcEvent>;

// Any event the BPF programs send; nullopt for a malformed record.
std::optional<Event> decode_event(const void *data, size_t size);
uint64_t event_time(const Event &event);

}  // namespace pidtree
