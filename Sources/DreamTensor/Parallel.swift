import Foundation
import COpenBLAS

/// How the engine uses the cores. OpenBLAS is kept single-threaded and all parallelism is ours
/// (`parallelFor`, which also splits large GEMMs into blocks): one pool of `threads` workers, so BLAS
/// threads never spin against ours and the machine is never oversubscribed.
public enum Engine {
    nonisolated(unsafe) private static var _threads: Int = {
        openblas_set_num_threads(1)
        // Keep freed tensor memory in the heap instead of returning every large block to the kernel:
        // otherwise each big activation costs a fresh mmap and a page fault per 4 KB on first touch.
        mallopt(M_MMAP_THRESHOLD, 1 << 30)
        mallopt(M_TRIM_THRESHOLD, 1 << 31 - 1)
        let env = ProcessInfo.processInfo.environment["DREAM_THREADS"].flatMap(Int.init)
        return max(1, env ?? ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Worker threads for engine loops (default: all cores, or `DREAM_THREADS`).
    public static var threads: Int {
        get { _threads }
        set { _threads = max(1, newValue) }
    }
}

/// Runs `body` over `0..<n` split into contiguous ranges, one per worker. `grain` is the smallest range
/// worth a thread of its own. Every index is processed by exactly one call, so results do not depend
/// on the thread count as long as `body` treats each index independently.
/// `perWorker` ranges are made for each worker (more even out imbalance; 1 suits bodies that allocate
/// a scratch buffer per range).
@inline(__always)
public func parallelFor(_ n: Int, grain: Int = 1, perWorker: Int = 4, _ body: (Range<Int>) -> Void) {
    if n <= 0 { return }
    let workers = min(Engine.threads, max(1, n / max(grain, 1)))
    if workers <= 1 { body(0..<n); return }
    let chunks = min(n, workers * perWorker)
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Elementwise work: ranges of at least 16K elements per thread.
@inline(__always)
func parallelElements(_ n: Int, _ body: (Range<Int>) -> Void) {
    parallelFor(n, grain: 1 << 14, body)
}
