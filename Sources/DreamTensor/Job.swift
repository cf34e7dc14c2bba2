import Foundation

/// Cancellation and progress for long work at every layer (learning, sampling, loops in scripts).
/// Work calls `Job.checkCancelled()` at its step boundaries and reports through `Job.progress`; the
/// context it runs in (`ExecutionContext`) decides how progress is shown and when cancellation is requested.
public enum Job {
    public struct Cancelled: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "interrupted" }
    }

    /// Throws `Cancelled` (and clears the request) when cancellation was asked for in this thread's context.
    public static func checkCancelled() throws {
        if ExecutionContext.current.takeCancelRequest() { throw Cancelled() }
    }

    /// A progress reporter from this thread's context (the command line's draw bars, or nothing with --quiet).
    public static func progress(_ label: String, total: Int) -> ProgressReporter { ExecutionContext.current.makeReporter(label, total) }
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
