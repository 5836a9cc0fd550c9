// --format text: each output line (an event or one of the tracer's typed
// lines, as JSON) rendered for a person at a terminal: a headline (time,
// probe, addresses), the other fields, and the process tree from pid 1 down
// to the event's process, indented. It works on the finished JSON lines,
// by field names, so every probe and every typed line has a view without
// code of its own, and the filters and probes are the same as for JSON.
//
// Nothing a process controls reaches the terminal as a control byte: C0
// and C1 controls and DEL are shown as \xNN (a command line cannot move
// the cursor, set the title or forge a line).
#pragma once

#include <string>
#include <string_view>

namespace pidtree {

class TextView {
 public:
  // `colour`: ANSI colours (for a terminal).
  explicit TextView(bool colour) : colour_(colour) {}
  // Appends the view of one JSON line (without its newline) to `out`: a
  // few lines and a blank one. A line that is not a JSON object (never
  // made by the tracer) is shown as it is, its controls escaped.
  void render(std::string_view json_line, std::string *out) const;
  // render() for each line of `lines` (whole lines, each ending in \n).
  void render_lines(std::string_view lines, std::string *out) const;

 private:
  bool colour_;
};

// Whether the output on `fd` gets colours: a terminal, and neither NO_COLOR
// set nor TERM=dumb.
bool want_colour(int fd);

}  // namespace pidtree
