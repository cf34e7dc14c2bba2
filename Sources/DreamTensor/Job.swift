import Foundation

/// Cancellation and progress for long work at every layer (learning, sampling, loops in scripts).
/// Work calls `Job.checkCancelled()` at its step boundaries and reports through `Job.progress`; the
/// command line decides how progress is shown and when cancellation is requested (Ctrl-C).
public enum Job {
    /// Set from a signal handler: only a flag, read at step boundaries.
    nonisolated(unsafe) public static var cancelRequested: sig_atomic_t = 0

    public struct Cancelled: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "interrupted" }
    }

    /// Throws `Cancelled` (and clears the request) when cancellation was asked for.
    public static func checkCancelled() throws {
        if cancelRequested != 0 {
            cancelRequested = 0
            throw Cancelled()
        }
    }

    /// Makes progress reporters; the command line installs one that draws bars (or nothing with --quiet).
    nonisolated(unsafe) public static var makeReporter: (_ label: String, _ total: Int) -> ProgressReporter = { _, _ in SilentProgress() }

    public static func progress(_ label: String, total: Int) -> ProgressReporter { makeReporter(label, total) }
}

public protocol ProgressReporter: AnyObject {
    /// `done` steps of the total are complete; `note` is a short status such as a loss value.
    func update(_ done: Int, note: String)
    func finish()
}

public final class SilentProgress: ProgressReporter {
    public init() {}
    public func update(_ done: Int, note: String) {}
    public func finish() {}
}
