#include "pipeline/supervisor.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace pidtree {

namespace {

// Names the supervisor's pid in its child's environment.
constexpr const char *kEnv = "PIDTREE_BCC_SUPERVISOR";

volatile sig_atomic_t g_child = 0;
volatile sig_atomic_t g_stop = 0;  // SIGINT or SIGTERM: no more restarts
bool g_supervised = false;

void forward(int sig) {
  if (sig != SIGHUP)
    g_stop = 1;
  if (g_child > 0)
    kill(g_child, sig);
}

}  // namespace

bool RestartBudget::allow(std::chrono::steady_clock::time_point now) {
  while (!recent_.empty() && now - recent_.front() >= kRestartWindow)
    recent_.pop_front();
  if (recent_.size() >= static_cast<size_t>(kMaxRestarts))
    return false;
  recent_.push_back(now);
  return true;
}

bool supervised() { return g_supervised; }

int supervise(char **argv) {
  if (const char *parent = getenv(kEnv)) {
    // The child: it dies with its supervisor (a SIGKILL of the supervisor
    // must not leave a tracer attached), checked after the prctl so a
    // supervisor gone before it is seen too.
    std::string expected = parent;
    unsetenv(kEnv);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
        std::to_string(getppid()) != expected) {
      std::fprintf(stderr,
                   "pidtree-bcc: error: %s is set but this process's parent "
                   "is not that supervisor\n",
                   kEnv);
      return 1;
    }
    g_supervised = true;
    return -1;
  }
  // The forwarded signals, held back while no child is there to take
  // them (from fork to g_child).
  struct sigaction sa {};
  sa.sa_handler = forward;
  sigemptyset(&sa.sa_mask);
  sigset_t held, old;
  sigemptyset(&held);
  for (int sig : {SIGHUP, SIGINT, SIGTERM}) {
    sigaction(sig, &sa, nullptr);
    sigaddset(&held, sig);
  }
  signal(SIGPIPE, SIG_IGN);
  setenv(kEnv, std::to_string(getpid()).c_str(), 1);
  // The binary's own path (not /proc/self/exe, whose name would be the
  // child's comm): pidof and ps show pidtree-bcc for both processes.
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    std::fprintf(stderr,
                 "pidtree-bcc: error: cannot find this binary "
                 "(/proc/self/exe): %s\n",
                 std::strerror(errno));
    return 1;
  }
  self[n] = '\0';
  RestartBudget budget;
  for (;;) {
    if (g_stop)
      return 0;
    sigprocmask(SIG_BLOCK, &held, &old);
    pid_t pid = fork();
    if (pid < 0) {
      std::fprintf(stderr, "pidtree-bcc: error: cannot start the tracer: %s\n",
                   std::strerror(errno));
      return 1;
    }
    if (pid == 0) {
      sigprocmask(SIG_SETMASK, &old, nullptr);
      execv(self, argv);
      std::fprintf(stderr, "pidtree-bcc: error: cannot run %s: %s\n", self,
                   std::strerror(errno));
      _exit(1);
    }
    g_child = pid;
    sigprocmask(SIG_SETMASK, &old, nullptr);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    g_child = 0;
    if (WIFSIGNALED(status))
      return 128 + WTERMSIG(status);
    int code = WEXITSTATUS(status);
    if (code != kRestartStatus || g_stop)
      return code == kRestartStatus ? 0 : code;
    if (!budget.allow(std::chrono::steady_clock::now())) {
      std::fprintf(stderr,
                   "pidtree-bcc: error: the configuration asked for more than "
                   "%d restarts in %lld s; stopping (fix the file, then start "
                   "pidtree-bcc again)\n",
                   kMaxRestarts,
                   static_cast<long long>(kRestartWindow.count()));
      return 1;
    }
    std::fprintf(stderr,
                 "pidtree-bcc: starting the tracer again with the changed "
                 "configuration\n");
  }
}

}  // namespace pidtree
