import Foundation

/// Runs `body` over `0..<n` split into contiguous ranges, one per worker (the context's `threads`: OpenBLAS is
/// kept single-threaded and large GEMMs are split into blocks here, so the machine is never oversubscribed).
/// `grain` is the smallest range worth a thread of its own. Every index is processed by exactly one call, so results do not depend
/// on the thread count as long as `body` treats each index independently.
/// `perWorker` ranges are made for each worker (more even out imbalance; 1 suits bodies that allocate
/// a scratch buffer per range).
@inline(__always)
public func parallelFor(_ n: Int, grain: Int = 1, perWorker: Int = 4, _ body: (Range<Int>) -> Void) {
    if n <= 0 { return }
    let context = ExecutionContext.current
    let workers = min(context.threads, max(1, n / max(grain, 1)))
    if workers <= 1 { body(0..<n); return }
    let chunks = min(n, workers * perWorker)
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            // The caller's context goes with the work (its threads, its memory accounting).
            if lo < hi { context.run { body(lo..<hi) } }
        }
    }
}

/// Elementwise work: ranges of at least 16K elements per thread.
@inline(__always)
func parallelElements(_ n: Int, _ body: (Range<Int>) -> Void) {
    parallelFor(n, grain: 1 << 14, body)
}
