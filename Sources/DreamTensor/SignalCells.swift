import Foundation

/// The process's Ctrl-C state. A signal belongs to the process, and its handler can reach nothing but
/// process-wide memory: these cells are the only such state dream has. A program's context takes `cancel` as
/// its cancellation request (`ExecutionContext(cancellation: SignalCells.cancel)`), so the handler's write is
/// what the running work sees at its next step boundary.
public enum SignalCells {
    /// [0] the cancellation request, [1] Ctrl-Cs after the one not yet honoured, [2] how many of those end the
    /// process (the command line's handler counts them).
    private static let cells: UnsafeMutablePointer<sig_atomic_t> = {
        let c = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 3)
        c.initialize(repeating: 0, count: 3)
        c[2] = 1
        return c
    }()

    /// Made before a handler is installed (never lazily inside one); call from `install` functions.
    public static func prepare() { _ = cells }

    public static var cancel: UnsafeMutablePointer<sig_atomic_t> { cells }
    public static var pending: UnsafeMutablePointer<sig_atomic_t> { cells + 1 }
    public static var endAfter: UnsafeMutablePointer<sig_atomic_t> { cells + 2 }
}
