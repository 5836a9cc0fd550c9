#include "pidtree/btf.h"

#include <bpf/btf.h>
#include <errno.h>

#include <cstring>

namespace pidtree {

namespace {

// The byte offset of field `name` in struct `type_id`, searching anonymous
// members; -1 if absent, -2 if it is a bit field or not `size` bytes.
long field_offset(const btf *b, uint32_t type_id, const char *name, size_t size,
                  int depth = 0) {
  const btf_type *t = btf__type_by_id(b, type_id);
  if (!t || !btf_is_composite(t) || depth > 8)
    return -1;
  const btf_member *m = btf_members(t);
  for (uint16_t i = 0; i < btf_vlen(t); ++i, ++m) {
    const char *member = btf__name_by_offset(b, m->name_off);
    uint32_t bits = btf_member_bit_offset(t, i);
    if (member && member[0] == '\0') {
      long inner =
          field_offset(b, btf__resolve_type(b, m->type), name, size, depth + 1);
      if (inner == -2)
        return -2;
      if (inner >= 0)
        return static_cast<long>(bits / 8) + inner;
      continue;
    }
    if (!member || std::strcmp(member, name) != 0)
      continue;
    if (btf_member_bitfield_size(t, i) != 0 || bits % 8 != 0 ||
        btf__resolve_size(b, m->type) != static_cast<long long>(size))
      return -2;
    return static_cast<long>(bits / 8);
  }
  return -1;
}

bool find(const btf *b, const char *type, const char *field, uint32_t *out,
          std::string *why) {
  int id = btf__find_by_name_kind(b, type, BTF_KIND_STRUCT);
  long off = id > 0 ? field_offset(b, static_cast<uint32_t>(id), field, 8) : -1;
  if (off >= 0) {
    *out = static_cast<uint32_t>(off);
    return true;
  }
  if (id <= 0)
    *why = std::string("the kernel's BTF has no struct ") + type;
  else if (off == -1)
    *why = std::string("struct ") + type + " has no field " + field +
           " in the kernel's BTF";
  else
    *why = std::string(type) + "." + field +
           " is not an 8-byte field in the kernel's BTF";
  return false;
}

}  // namespace

std::optional<ArgvOffsets> argv_offsets(const std::string &btf_path,
                                        std::string *why) {
  btf *b = btf__parse(btf_path.c_str(), nullptr);
  if (!b) {
    *why = "cannot read " + btf_path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  ArgvOffsets o;
  bool ok = find(b, "task_struct", "mm", &o.task_mm, why) &&
            find(b, "mm_struct", "arg_start", &o.mm_arg_start, why) &&
            find(b, "mm_struct", "arg_end", &o.mm_arg_end, why);
  btf__free(b);
  if (!ok)
    return std::nullopt;
  return o;
}

}  // namespace pidtree
