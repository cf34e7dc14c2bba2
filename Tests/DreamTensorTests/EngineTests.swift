import XCTest
import DreamTestSupport
import DreamTensor

final class EngineTests: XCTestCase {
    func testSharedInputsAccumulate() throws {
        let x = try Tensor([1, 2, 3], shape: [3]).param()
        let y = try (x * x + x).sum()              // dy/dx = 2x + 1
        XCTAssertEqual(try gradients(of: y, wrt: [x])[0].scalars, [3, 5, 7])
    }

    func testGradientOfIntermediateAndUnusedInputs() throws {
        let a = try Tensor([1, 2], shape: [2]).param(), b = try Tensor([5], shape: [1]).param()
        let h = try a * 3
        let g = try gradients(of: try (h * h).sum(), wrt: [h, a, b])
        XCTAssertEqual(g[0].scalars, [6, 12])     // 2h
        XCTAssertEqual(g[1].scalars, [18, 36])    // 2h·3
        XCTAssertEqual(g[2].scalars, [0])         // unused: zeros
    }

    func testInferenceModeRecordsNothing() throws {
        let x = Tensor.randn([4, 4], seed: 1).param()
        let y = try withoutGrad { try x.matmul(x).gelu().sum() }
        XCTAssertNil(y.node)
        XCTAssertNotNil(try x.matmul(x).node)
    }

    func testRandomNumbersIgnoreThreadCount() {
        let (a, u1) = ExecutionContext(threads: 1).run { (Tensor.randn([100_003], seed: 42), Tensor.rand([1000], seed: 3)) }
        let (b, u2) = ExecutionContext(threads: 2).run { (Tensor.randn([100_003], seed: 42), Tensor.rand([1000], seed: 3)) }
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertEqual(u1.scalars, u2.scalars)
        XCTAssertNotEqual(Tensor.randn([8], seed: 43).scalars, Array(a.scalars.prefix(8)))
    }

    /// The derived seeds: SplitMix64 against the published outputs for seed 0 (Vigna's splitmix64.c), and the
    /// streams of different purposes at the same seed and index distinct.
    func testDerivedSeedsFollowTheirFormulas() {
        XCTAssertEqual([1, 2, 3].map { Seeds.splitMix(0, $0) }, [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
        let purposes: [Seeds.Purpose] = [.sampling, .learning, .conditions, .truthSubsets]
        for seed: UInt64 in [0, 1, 123] {
            for i in [0, 1, 400] {
                XCTAssertEqual(Set(purposes.map { Seeds.stream(seed, $0, index: i) }).count, purposes.count)
            }
        }
        XCTAssertEqual(Seeds.stream(5, .learning, index: 2), 5 + 0xD15 + 2 * 0x9E37_79B9)
        XCTAssertNotEqual(Seeds.scene(1, 0), Seeds.scene(0, 1))
        XCTAssertNotEqual(Seeds.trainingStep(1, stream: 2, step: 3), Seeds.trainingStep(1, stream: 3, step: 2))
    }

    func testConsecutiveDrawsContinueTheStream() {
        var g = RandomGenerator(seed: 5)
        let first = g.normal([6]), second = g.normal([6])
        XCTAssertNotEqual(first.scalars, second.scalars)
        var h = RandomGenerator(seed: 5)
        XCTAssertEqual(h.normal([6]).scalars, first.scalars)
    }

    func testNormalAndUniformMoments() throws {
        let n = 1_000_000
        let z = Tensor.randn([n], seed: 11)
        // Standard errors: mean 1e-3, variance ~1.4e-3; allow 5 of them.
        XCTAssertEqual(try z.mean().item, 0, accuracy: 5e-3)
        XCTAssertEqual(try z.variance().item, 1, accuracy: 7e-3)
        let u = Tensor.rand([n], seed: 12)
        XCTAssertEqual(try u.mean().item, 0.5, accuracy: 1.5e-3)
        XCTAssertGreaterThanOrEqual(try u.min().item, 0)
        XCTAssertLessThan(try u.max().item, 1)
        // Fraction within one sigma: 0.6827.
        let within = z.scalars.filter { abs($0) < 1 }.count
        XCTAssertEqual(Double(within) / Double(n), 0.6827, accuracy: 3e-3)
    }

    func testResultsIgnoreThreadCount() throws {
        let x = Tensor.randn([2, 16, 12, 12], seed: 1), w = Tensor.randn([8, 16, 3, 3], seed: 2)
        func run() throws -> [Float] {
            let y = try x.conv2d(w, padding: 1).groupNorm(groups: 4).silu()
            return try y.sum(axis: 1).scalars + [try y.sum().item]
        }
        let one = try ExecutionContext(threads: 1).run { try run() }
        XCTAssertEqual(one, try ExecutionContext(threads: 2).run { try run() })
    }

    /// Chunked attention (several query blocks) against the plain formula softmax(QKᵀ/√d)V.
    func testChunkedAttentionMatchesThePlainFormula() throws {
        let (nq, nk, d, heads) = (1100, 8192, 8, 2)   // 8192 keys: blocks of 512 queries
        let q = Tensor.randn([1, nq, d], seed: 1), k = Tensor.randn([1, nk, d], seed: 2), v = Tensor.randn([1, nk, d], seed: 3)
        let out = try Tensor.attention(q, k, v, heads: heads)
        let dh = d / heads
        for h in 0..<heads {
            let qh = try q.sliced(axis: 2, start: h * dh, end: (h + 1) * dh)
            let kh = try k.sliced(axis: 2, start: h * dh, end: (h + 1) * dh)
            let vh = try v.sliced(axis: 2, start: h * dh, end: (h + 1) * dh)
            let p = try (qh.matmul(kh.transposed()) * (1 / Float(dh).squareRoot())).softmax(axis: -1)
            assertClose(try out.sliced(axis: 2, start: h * dh, end: (h + 1) * dh), try p.matmul(vh), 1e-5, "head \(h)")
        }
    }

    /// Self-attention over 4096 tokens (8 heads × 40) must not build the 4096×4096 score matrices:
    /// forward and backward stay far below what 8 × 64 MB of scores would take.
    func testAttentionMemoryIsBounded() throws {
        let q = Tensor.randn([1, 4096, 320], seed: 1).param()
        // A context of the test's own: its figures are this test's allocations alone.
        let context = ExecutionContext()
        let memory = try XCTUnwrap(context.memory)
        try context.run {
            let out = try Tensor.attention(q, q, q, heads: 8)
            let forwardExtra = memory.peakBytes - out.count * 4
            _ = try gradients(of: try out.sum(), wrt: [q])
            let totalExtra = memory.peakBytes
            XCTAssertLessThan(forwardExtra, 64 << 20, "forward used \(forwardExtra >> 20) MB beyond its output")
            XCTAssertLessThan(totalExtra, 300 << 20, "forward + backward used \(totalExtra >> 20) MB")
            XCTAssertGreaterThan(totalExtra, 2 * out.count * 4, "the context counted the output and q's gradient")
        }
    }

    /// Resampling keeps constants constant and linear ramps linear (away from the borders), and a 2×
    /// downscale uses PIL's antialiased bilinear weights 1/8, 3/8, 3/8, 1/8.
    func testResizeFilters() throws {
        let c = Tensor(repeating: 0.3, shape: [1, 3, 9, 7])
        XCTAssertEqual(try c.resized(height: 4, width: 13).scalars.map { ($0 * 1e5).rounded() }, [Float](repeating: 30000, count: 3 * 4 * 13))
        let ramp = try Tensor((0..<16).map { Float($0) }, shape: [1, 1, 1, 16]).expand(to: [1, 1, 2, 16]).copy()
        let up = try ramp.resized(height: 2, width: 32)
        for x in 2..<30 { XCTAssertEqual(up.pointer[x], (Float(x) + 0.5) / 2 - 0.5, accuracy: 1e-5) }
        let spike = try Tensor([0, 0, 0, 8, 0, 0, 0, 0], shape: [1, 1, 1, 8])
        let half = try spike.resized(height: 1, width: 4)
        XCTAssertEqual(half.scalars, [0, 3, 1, 0])   // output pixel 1 sees inputs 1...4 with 1/8 3/8 3/8 1/8
    }

    func testBadShapesThrowWithBothShapes() {
        let a = Tensor(zeros: [2, 3]), b = Tensor(zeros: [4, 5])
        XCTAssertThrowsError(try a + b) { XCTAssertTrue("\($0)".contains("[2, 3]") && "\($0)".contains("[4, 5]"), "\($0)") }
        XCTAssertThrowsError(try a.matmul(b)) { XCTAssertTrue("\($0)".contains("[2, 3]") && "\($0)".contains("[4, 5]"), "\($0)") }
        XCTAssertThrowsError(try a.reshaped([5])) { XCTAssertTrue("\($0)".contains("[5]"), "\($0)") }
        XCTAssertThrowsError(try a.sum(axis: 2)) { XCTAssertTrue("\($0)".contains("axis 2"), "\($0)") }
        XCTAssertThrowsError(try Tensor(zeros: [1, 3, 4, 4]).conv2d(Tensor(zeros: [2, 4, 3, 3])))
        XCTAssertThrowsError(try Tensor(zeros: [1, 6, 2]).groupNorm(groups: 4))
        // Single values have no axes (found by the language fuzz test: cat of two numbers).
        XCTAssertThrowsError(try concatenate([Tensor(scalar: 1), Tensor(scalar: 2)], axis: 0))
        XCTAssertThrowsError(try Tensor(scalar: 1).select(axis: 0, index: 0))
        XCTAssertThrowsError(try Tensor(scalar: 1).sliced(axis: 0, start: 0))
        XCTAssertEqual(try stack([Tensor(scalar: 1), Tensor(scalar: 2)], axis: 0).scalars, [1, 2])
    }

    /// Work that cannot fit is refused before it starts, naming the estimate and what is available.
    func testMemoryCheckRefusesWhatCannotFit() throws {
        XCTAssertEqual(Memory.format(999), "999 bytes")
        XCTAssertEqual(Memory.format(1_500_000), "1.5 MB")
        XCTAssertEqual(Memory.format(27e9), "27 GB")
        let free = try XCTUnwrap(Memory.available())
        XCTAssertGreaterThan(free, 1 << 20)
        XCTAssertNoThrow(try Memory.check(1e6, for: "a small thing"))
        XCTAssertThrowsError(try Memory.check(1e18, for: "a huge thing")) { e in
            XCTAssertTrue("\(e)".hasPrefix("a huge thing needs about 1000 PB of memory; "), "\(e)")
            XCTAssertTrue("\(e)".hasSuffix(" is available"), "\(e)")
        }
    }

    /// `withoutGrad` is the calling thread's: another thread meanwhile still records its graph.
    func testGradModeBelongsToTheCallingThread() throws {
        let x = Tensor.randn([3], seed: 1).param()
        final class Seen: @unchecked Sendable { var recorded = false }
        let other = Seen()
        try withoutGrad {
            XCTAssertFalse(GradMode.isEnabled)
            XCTAssertNil(try (x * 2).node, "no graph inside withoutGrad")
            let done = DispatchSemaphore(value: 0)
            Thread { other.recorded = GradMode.isEnabled && ((try? x * 2)?.node != nil); done.signal() }.start()
            done.wait()
        }
        XCTAssertTrue(other.recorded, "another thread records while this one is inside withoutGrad")
        XCTAssertTrue(GradMode.isEnabled)
        XCTAssertNotNil(try (x * 2).node)
    }
}
