// Every event the pipeline carries: each probe's, and the process table's
// feed. Decoding dispatches on the record's kind to the probe that owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>

#include "probes/net_listen/listen_event.h"
#include "probes/tcp_connect/connect_event.h"
#include "process/process_events.h"

namespace pidtree {

// ProcEvent feeds the process table; every other type is a probe's event
// with fields ts_boot_ns and comm, task() and an append_json() overload.
using Event = std::variant<ProcEvent, ConnectEvent, ListenEvent>;

// Any record the BPF programs send; nullopt for a malformed one.
std::optional<Event> decode_event(const void *data, size_t size);
uint64_t event_time(const Event &event);

}  // namespace pidtree
