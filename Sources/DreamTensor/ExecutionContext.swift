import Foundation
import COpenBLAS

/// What work runs with: how many worker threads, the cancellation request it checks at step boundaries, how
/// it reports progress, and the bytes its tensors hold. Nothing of this is process-wide: whoever runs work
/// owns a context (the session, a test, a benchmark) and installs it for the work of a thread with `run`;
/// `parallelFor` carries it into its workers. A context is configured when made and never after. A thread with
/// none installed uses `standard`: the engine's defaults (all cores, or `DREAM_THREADS`; no progress; no memory
/// counted; cancelled only by a request made on it).
public final class ExecutionContext {
    /// Worker threads for engine loops.
    public let threads: Int
    /// Makes progress reporters (the command line's draw bars; the default reports nothing).
    public let makeReporter: (_ label: String, _ total: Int) -> ProgressReporter
    /// Bytes held by the tensor storages allocated under this context; nil for `standard`, which is nobody's
    /// and counts nothing.
    public let memory: MemoryAccounting?
    /// The cancellation request: a cell a signal handler may write (it can reach nothing else), or one of the
    /// context's own.
    let cancelCell: UnsafeMutablePointer<sig_atomic_t>
    let ownsCell: Bool

    /// `threads` nil: all cores, or `DREAM_THREADS`. `cancellation`: a cell that a signal handler sets (kept by
    /// the caller for the context's life); nil gives the context a cell of its own. `reporter` makes the progress
    /// reporters of the work run in it.
    public convenience init(threads: Int? = nil, cancellation: UnsafeMutablePointer<sig_atomic_t>? = nil,
                            reporter: @escaping (_ label: String, _ total: Int) -> ProgressReporter = { _, _ in SilentProgress() }) {
        self.init(threads: threads, cancellation: cancellation, reporter: reporter, memory: MemoryAccounting())
    }

    private init(threads: Int?, cancellation: UnsafeMutablePointer<sig_atomic_t>?,
                 reporter: @escaping (_ label: String, _ total: Int) -> ProgressReporter, memory: MemoryAccounting?) {
        _ = ExecutionContext.processSetup
        makeReporter = reporter
        self.memory = memory
        let env = ProcessInfo.processInfo.environment["DREAM_THREADS"].flatMap(Int.init)
        self.threads = max(1, threads ?? env ?? ProcessInfo.processInfo.activeProcessorCount)
        if let c = cancellation { cancelCell = c; ownsCell = false } else {
            cancelCell = .allocate(capacity: 1); cancelCell.initialize(to: 0); ownsCell = true
        }
    }

    deinit { if ownsCell { cancelCell.deallocate() } }

    /// What the process needs once before any engine work: OpenBLAS single-threaded (all parallelism is ours,
    /// so BLAS threads never spin against ours), and freed tensor memory kept in the heap instead of returning
    /// every large block to the kernel (otherwise each big activation costs a fresh mmap and a page fault per
    /// 4 KB on first touch).
    private static let processSetup: Void = {
        openblas_set_num_threads(1)
        mallopt(M_MMAP_THRESHOLD, 1 << 30)
        mallopt(M_TRIM_THRESHOLD, 1 << 31 - 1)
    }()

    /// The context of work on a thread where none is installed.
    public static let standard = ExecutionContext(threads: nil, cancellation: nil, reporter: { _, _ in SilentProgress() }, memory: nil)

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// The context installed on this thread, else `standard`.
    public static var current: ExecutionContext {
        guard let p = pthread_getspecific(key) else { return standard }
        return Unmanaged<ExecutionContext>.fromOpaque(p).takeUnretainedValue()
    }

    /// Runs `body` on this thread with this context installed (the previous one back afterwards).
    public func run<T>(_ body: () throws -> T) rethrows -> T {
        let saved = pthread_getspecific(ExecutionContext.key)
        let me = Unmanaged.passRetained(self)
        pthread_setspecific(ExecutionContext.key, me.toOpaque())
        defer { pthread_setspecific(ExecutionContext.key, saved); me.release() }
        return try body()
    }

    /// Whether cancellation was asked for and not yet taken.
    public var cancelRequested: Bool { cancelCell.pointee != 0 }
    /// Asks the running work to stop at its next step boundary.
    public func requestCancel() { cancelCell.pointee = 1 }
    /// Whether cancellation was asked for, clearing the request.
    public func takeCancelRequest() -> Bool {
        guard cancelCell.pointee != 0 else { return false }
        cancelCell.pointee = 0
        return true
    }
}

/// Bytes held by tensor storages now and at their peak, so that benchmarks and tests can measure the memory
/// an op needs (BLAS's own fixed buffers are not included).
public final class MemoryAccounting {
    private var live = 0, peak = 0
    private let lock = NSLock()
    public init() {}

    func allocated(_ bytes: Int) {
        lock.lock()
        live += bytes
        if live > peak { peak = live }
        lock.unlock()
    }

    public var liveBytes: Int { lock.lock(); defer { lock.unlock() }; return live }
    public var peakBytes: Int { lock.lock(); defer { lock.unlock() }; return peak }
}
