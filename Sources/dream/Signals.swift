import Foundation
import DreamTensor

/// Ctrl-C: the first asks the running job to stop at its next step boundary (the session context's
/// cancellation request). Work with no step boundary can still be ended: in a script a second Ctrl-C before the
/// first is honoured ends the process with 130; in the session, where that would lose every binding, the second
/// only says so and a third ends it (the deliberate gesture).
enum Signals {
    /// In the interactive session a hard stop takes two more Ctrl-Cs, announced.
    static func interactive() { SignalCells.endAfter.pointee = 2 }

    static func install() {
        SignalCells.prepare()
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            let (cancel, pending, endAfter) = (SignalCells.cancel, SignalCells.pending, SignalCells.endAfter)
            if cancel.pointee == 0 { pending.pointee = 0; cancel.pointee = 1; return }
            pending.pointee += 1
            if pending.pointee >= endAfter.pointee {
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
