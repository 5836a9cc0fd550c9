#include "config/remote.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <set>

#include "common/net.h"

namespace pidtree {

namespace {

class CurlFetcher : public Fetcher {
 public:
  explicit CurlFetcher(const FetchOptions &options) : options_(options) {}

  std::string fetch(const std::string &url, std::string *body) override {
    // At the first fetch, not at start-up: most runs include no URL.
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<CURL, void (*)(CURL *)> h(curl_easy_init(),
                                              curl_easy_cleanup);
    if (!h)
      return "libcurl could not start";
    Sink sink{body, options_.max_bytes, false};
    body->clear();
    char error[CURL_ERROR_SIZE] = "";
    const bool https = has_url_scheme(url, "https");
    CURL *c = h.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    // An https URL is not let down to http by a redirect.
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
                     https ? "https" : "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // a thread of its own
    curl_easy_setopt(c, CURLOPT_TIMEOUT,
                     static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);  // 4xx and 5xx fail
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty())
      curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(options_.max_bytes));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "pidtree-bcc");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &CurlFetcher::write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    CURLcode rc = curl_easy_perform(c);
    if (sink.over || rc == CURLE_FILESIZE_EXCEEDED) {
      body->clear();
      return "larger than " + std::to_string(options_.max_bytes >> 20) + " MiB";
    }
    if (rc != CURLE_OK) {
      body->clear();
      return printable(*error ? error : curl_easy_strerror(rc));
    }
    return "";
  }

 private:
  struct Sink {
    std::string *body;
    size_t max;
    bool over;
  };

  static size_t write(char *data, size_t size, size_t n, void *user) {
    auto *sink = static_cast<Sink *>(user);
    size_t bytes = size * n;
    if (sink->body->size() + bytes > sink->max) {
      sink->over = true;
      return 0;  // ends the transfer
    }
    sink->body->append(data, bytes);
    return bytes;
  }

  FetchOptions options_;
};

}  // namespace

std::unique_ptr<Fetcher> make_curl_fetcher(const FetchOptions &options) {
  return std::make_unique<CurlFetcher>(options);
}

RemoteIncludes::RemoteIncludes(Fetcher &fetcher, Clock &clock,
                               std::chrono::seconds interval)
    : fetcher_(fetcher), clock_(clock), interval_(interval) {}

RemoteIncludes::~RemoteIncludes() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

std::string RemoteIncludes::get(const std::string &url, std::string *text) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = copies_.find(url);
    if (it != copies_.end()) {
      *text = it->second.text;
      return "";
    }
  }
  std::string body, why = fetcher_.fetch(url, &body);
  if (!why.empty())
    return why;
  std::lock_guard<std::mutex> lock(mu_);
  copies_[url] = Copy{body, clock_.realtime_ns()};
  *text = std::move(body);
  return "";
}

void RemoteIncludes::use(const std::vector<std::string> &urls) {
  std::set<std::string> keep(urls.begin(), urls.end());
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = copies_.begin(); it != copies_.end();)
      it = keep.count(it->first) ? std::next(it) : copies_.erase(it);
    start = !copies_.empty() && !thread_.joinable();
  }
  if (start)
    thread_ = std::thread([this] { run(); });
}

void RemoteIncludes::refresh_soon() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    soon_ = true;
  }
  wake_.notify_all();
}

bool RemoteIncludes::poll(std::vector<std::string> *failures) {
  std::lock_guard<std::mutex> lock(mu_);
  bool changed = changed_;
  changed_ = false;
  for (auto &f : failures_)
    failures->push_back(std::move(f));
  failures_.clear();
  return changed;
}

void RemoteIncludes::refresh_all() {
  std::vector<std::string> urls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto &c : copies_)
      urls.push_back(c.first);
  }
  for (const auto &url : urls) {
    std::string body, why = fetcher_.fetch(url, &body);
    int64_t now = clock_.realtime_ns();
    std::lock_guard<std::mutex> lock(mu_);
    auto it = copies_.find(url);
    if (it == copies_.end())
      continue;  // forgotten meanwhile
    if (!why.empty()) {
      failures_.push_back("cannot fetch '" + printable(url) + "': " + why +
                          "; the copy fetched at " +
                          format_rfc3339_utc(it->second.fetched_ns) + " stays");
      continue;
    }
    if (body != it->second.text) {
      it->second.text = std::move(body);
      changed_ = true;
    }
    it->second.fetched_ns = now;
  }
}

void RemoteIncludes::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    wake_.wait_for(lock, interval_, [this] { return stop_ || soon_; });
    if (stop_)
      break;
    soon_ = false;
    lock.unlock();
    refresh_all();
    lock.lock();
  }
}

}  // namespace pidtree
