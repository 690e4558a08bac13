#pragma once
// Requests to stop from outside (Ctrl-C, SIGTERM, a closed terminal), counted from the first
// instant of soak's life: the CLI installs the handlers first thing, and every wait (readiness,
// sampling, the stop grace) asks how many requests came. The first ends the run in order; a
// second skips the remaining grace, and the verdict and report are still written; a third
// takes the signal's default action (the way out when something still hangs).
//
// Thread-safety: the counters are lock-free atomics, read from any thread. The handlers only
// increment them (async-signal-safe). The platform code is in sampler/src/<os>/stop_signals.cpp
// (Linux: SIGINT, SIGTERM, SIGHUP).

namespace soak::sampler {

/// Installs the handlers (idempotent). Until it is called, stop_requests() stays 0 and the
/// signals keep their default actions.
void install_stop_signals();
/// How many stop requests arrived so far.
int stop_requests();
/// The last request's signal number (0 before any), for "stopped by SIGINT".
int last_stop_signal();
/// "SIGINT", "SIGTERM", "SIGHUP", or "signal" for another.
const char* stop_signal_name(int signal);

}  // namespace soak::sampler
