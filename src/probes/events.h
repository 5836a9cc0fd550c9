// Every event the pipeline carries: each probe's, and the process table's
// feed. Decoding dispatches on the record's kind to the probe that owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <variant>

#include "enrich/cgroup_event.h"
#include "probes/flood_event.h"
#include "probes/net_listen/listen_event.h"
#include "probes/tcp_connect/connect_event.h"
#include "probes/udp_session/udp_event.h"
#include "process/process_events.h"

namespace pidtree {

// ProcEvent feeds the process table, CgroupEvent the enrich stage's
// containers. Every other type is a probe's event,
// with ts_boot_ns, and either uid, task() and an append_json() overload
// (one line each), or kForStage: its probe's stage (pipeline/stage.h)
// takes it.
using Event =
    std::variant<ProcEvent, CgroupEvent, ConnectEvent, ListenEvent,
                 UdpSessionEvent, UdpSessionScanned, UdpSessionsUntracked,
                 FloodBegins, FloodSummary, FloodUntracked>;

// Events that no generic line is made of (see above).
template <typename E, typename = void>
struct for_stage : std::false_type {};
template <typename E>
struct for_stage<E, std::void_t<decltype(E::kForStage)>>
    : std::bool_constant<E::kForStage> {};

// Any record the BPF programs send; nullopt for a malformed one.
std::optional<Event> decode_event(const void *data, size_t size);
uint64_t event_time(const Event &event);

}  // namespace pidtree
