import Foundation
import DreamTensor

/// Ctrl-C: the first asks the running job to stop at its next step boundary (Job.cancelRequested);
/// a second before that is honoured ends the process with 130, for work that has no step boundary.
enum Signals {
    nonisolated(unsafe) static var forceOnSecond = true

    static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            if Job.cancelRequested != 0 && Signals.forceOnSecond {
                let msg = "\ninterrupted\n"
                _ = msg.withCString { write(2, $0, strlen($0)) }
                _exit(130)
            }
            Job.cancelRequested = 1
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0          // no SA_RESTART: a blocked read returns EINTR, so the prompt notices
        sigaction(SIGINT, &action, nil)
    }
}
