import Foundation
import DreamTensor

/// Ctrl-C: the first asks the running job to stop at its next step boundary (Job.cancelRequested). Work
/// with no step boundary can still be ended: in a script a second Ctrl-C before the first is honoured ends
/// the process with 130; in the session, where that would lose every binding, the second only says so and
/// a third ends it (the deliberate gesture).
enum Signals {
    /// Ctrl-Cs before the one the job has not yet honoured, and how many end the process.
    nonisolated(unsafe) static var pending: sig_atomic_t = 0
    nonisolated(unsafe) static var endAfter: sig_atomic_t = 1

    /// In the interactive session a hard stop takes two more Ctrl-Cs, announced.
    static func interactive() { endAfter = 2 }

    static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            if Job.cancelRequested == 0 { Signals.pending = 0; Job.cancelRequested = 1; return }
            Signals.pending += 1
            if Signals.pending >= Signals.endAfter {
                let msg = "\ninterrupted\n"
                _ = msg.withCString { write(2, $0, strlen($0)) }
                _exit(130)
            }
            let msg = "\n(stopping at the next step; Ctrl-C once more ends dream now, losing every binding)\n"
            _ = msg.withCString { write(2, $0, strlen($0)) }
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0          // no SA_RESTART: a blocked read returns EINTR, so the prompt notices
        sigaction(SIGINT, &action, nil)
    }
}
