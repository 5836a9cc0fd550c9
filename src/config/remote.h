// Remote includes: `!include https://...` (and http://), Yelp pidtree-bcc's
// shared files for a fleet. Each URL is fetched with libcurl when a load
// first meets it, the copy is kept, and a thread of its own fetches every
// kept URL again each interval (and soon after SIGHUP). A load reads the
// kept copies, so a reload never waits on the network for a URL it already
// knows; a refetch that fails keeps the last good copy and says so.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "config/config.h"

namespace pidtree {

struct FetchOptions {
  std::chrono::seconds timeout{10};  // the whole transfer, redirects included
  size_t max_bytes = 4u << 20;       // as a local configuration file
  std::string ca_file;               // PEM bundle; "" is the system's
};

// One HTTP(S) GET (system access, behind an interface for tests).
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // "" with the body, or why not (one line).
  virtual std::string fetch(const std::string &url, std::string *body) = 0;
};

// libcurl: http and https only (redirects too, and an https URL only to
// https), certificates and host names verified, a timeout, a size limit.
std::unique_ptr<Fetcher> make_curl_fetcher(const FetchOptions &options);

class RemoteIncludes : public RemoteFiles {
 public:
  RemoteIncludes(Fetcher &fetcher, Clock &clock, std::chrono::seconds interval);
  ~RemoteIncludes() override;
  RemoteIncludes(const RemoteIncludes &) = delete;
  RemoteIncludes &operator=(const RemoteIncludes &) = delete;

  // The kept copy of `url`; fetched now (on the caller's thread) when
  // there is none.
  std::string get(const std::string &url, std::string *text) override;
  // The URLs the configuration in force includes: the others are
  // forgotten, and the refetch thread runs while there is any.
  void use(const std::vector<std::string> &urls);
  // Asks the thread to fetch every URL now rather than at the interval.
  void refresh_soon();
  // What refetches found since the last call: true when a kept copy
  // changed; each failed fetch as a line for stderr and config_reload.
  bool poll(std::vector<std::string> *failures);
  // Fetches every URL in use once, on the caller's thread (the thread's
  // work; for tests).
  void refresh_all();

 private:
  struct Copy {
    std::string text;
    int64_t fetched_ns = 0;  // realtime
  };
  void run();

  Fetcher &fetcher_;
  Clock &clock_;
  const std::chrono::seconds interval_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, Copy> copies_;
  bool changed_ = false;
  bool stop_ = false;
  bool soon_ = false;
  std::vector<std::string> failures_;
  std::thread thread_;
};

}  // namespace pidtree
