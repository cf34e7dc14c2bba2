import Foundation
import XCTest
import DreamTestSupport
import DreamTensor
import DreamIO

/// Forward outputs and gradients of every op against PyTorch (Tests/Fixtures/engine.safetensors, made by
/// scripts/make-engine-fixtures.py).
final class TorchParityTests: XCTestCase {
    static let file = try! SafeTensorsFile(path: fixturesDir + "/engine.safetensors")

    typealias Op = ([Tensor], [String: Any]) throws -> Tensor

    static func int(_ p: [String: Any], _ k: String) -> Int { (p[k] as! NSNumber).intValue }
    static func float(_ p: [String: Any], _ k: String) -> Float { (p[k] as! NSNumber).floatValue }

    static let ops: [String: Op] = [
        "add": { x, _ in try x[0] + x[1] }, "sub": { x, _ in try x[0] - x[1] },
        "mul": { x, _ in try x[0] * x[1] }, "div": { x, _ in try x[0] / x[1] },
        "pow": { x, _ in try x[0].pow(x[1]) }, "bias4d": { x, _ in try x[0] + x[1] },
        "neg": { x, _ in -x[0] }, "exp": { x, _ in x[0].exp() }, "sigmoid": { x, _ in x[0].sigmoid() },
        "tanh": { x, _ in x[0].tanh() }, "silu": { x, _ in x[0].silu() }, "gelu": { x, _ in x[0].gelu() },
        "gelu_tanh": { x, _ in x[0].geluTanh() }, "quick_gelu": { x, _ in x[0].quickGelu() },
        "abs": { x, _ in x[0].abs() }, "log": { x, _ in x[0].log() }, "sqrt": { x, _ in x[0].sqrt() },
        "clamp": { x, p in try x[0].clamp(min: float(p, "min"), max: float(p, "max")) },
        "sum_all": { x, _ in try x[0].sum() },
        "sum_axis1": { x, p in try x[0].sum(axis: int(p, "axis")) },
        "mean_axis2_keep": { x, p in try x[0].mean(axis: int(p, "axis"), keepDims: true) },
        "var_axis0": { x, p in try x[0].variance(axis: int(p, "axis")) },
        "std_all": { x, _ in try x[0].std() },
        "max_axis1": { x, p in try x[0].max(axis: int(p, "axis")) },
        "min_all": { x, _ in try x[0].min() },
        "softmax_last": { x, p in try x[0].softmax(axis: int(p, "axis")) },
        "softmax_mid": { x, p in try x[0].softmax(axis: int(p, "axis")) },
        "permute": { x, p in try x[0].permuted((p["axes"] as! [NSNumber]).map(\.intValue)) },
        "transpose": { x, _ in try x[0].transposed() },
        "slice": { x, p in try x[0].sliced(axis: int(p, "axis"), start: int(p, "start"), end: int(p, "end"), step: int(p, "step")) },
        "select": { x, p in try x[0].select(axis: int(p, "axis"), index: int(p, "index")) },
        "cat": { x, p in try concatenate(x, axis: int(p, "axis")) },
        "stack": { x, p in try stack(x, axis: int(p, "axis")) },
        "expand": { x, p in try x[0].expand(to: (p["shape"] as! [NSNumber]).map(\.intValue)) },
        "matmul2d": { x, _ in try x[0].matmul(x[1]) }, "matmul_batched_2d": { x, _ in try x[0].matmul(x[1]) },
        "matmul_batched": { x, _ in try x[0].matmul(x[1]) }, "matmul_broadcast": { x, _ in try x[0].matmul(x[1]) },
        "matmul_vec": { x, _ in try x[0].matmul(x[1]) },
        "linear": { x, _ in try x[0].linear(x[1], bias: x[2]) },
        "linear_nobias": { x, _ in try x[0].linear(x[1]) },
        "conv_s1p1": conv, "conv_s2p1": conv, "conv_1x1": conv, "conv_s2p0": conv, "conv_k5p2": conv,
        "upsample": { x, _ in try x[0].upsampleNearest2x() },
        "pad": { x, p in try x[0].padded2d(left: int(p, "left"), right: int(p, "right"), top: int(p, "top"), bottom: int(p, "bottom")) },
        "group_norm": { x, p in try x[0].groupNorm(groups: int(p, "groups"), weight: x[1], bias: x[2], eps: float(p, "eps")) },
        "group_norm_plain": { x, p in try x[0].groupNorm(groups: int(p, "groups"), eps: float(p, "eps")) },
        "layer_norm": { x, p in try x[0].layerNorm(weight: x[1], bias: x[2], eps: float(p, "eps")) },
        "attention": { x, p in try Tensor.attention(x[0], x[1], x[2], heads: int(p, "heads")) },
        "attention_causal": { x, p in try Tensor.attention(x[0], x[1], x[2], heads: int(p, "heads"), causal: true) },
        "embedding": { x, p in
            try Tensor.embedding(x[0], ids: (p["ids"] as! [NSNumber]).map(\.intValue), shape: (p["shape"] as! [NSNumber]).map(\.intValue))
        },
    ]

    static let conv: Op = { x, p in try x[0].conv2d(x[1], bias: x[2], stride: int(p, "stride"), padding: int(p, "padding")) }

    func params(_ name: String) -> [String: Any] {
        let json = Self.file.metadata[name] ?? "{}"
        return (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
    }

    func inputs(_ name: String) throws -> [Tensor] {
        var xs: [Tensor] = []
        while Self.file.entries["\(name)/in\(xs.count)"] != nil { xs.append(try Self.file.tensor("\(name)/in\(xs.count)")) }
        return xs
    }

    func testEveryFixtureCaseHasAnOp() {
        let cases = Set(Self.file.names.filter { $0.hasSuffix("/out") && Self.file.entries[$0.replacingOccurrences(of: "/out", with: "/in0")] != nil }
            .map { String($0.dropLast(4)) }).subtracting(["clip"])
        XCTAssertEqual(cases.subtracting(Self.ops.keys), [], "fixture cases without a Swift op")
        XCTAssertEqual(Set(Self.ops.keys).subtracting(cases), [], "ops without a fixture case")
    }

    func testForwardAndBackwardMatchPyTorch() throws {
        for (name, op) in Self.ops.sorted(by: { $0.key < $1.key }) {
            let xs = try inputs(name).map { $0.param() }
            let p = params(name)
            let out = try op(xs, p)
            assertClose(out, try Self.file.tensor("\(name)/out"), 2e-6, "\(name) forward")
            let r = try Self.file.tensor("\(name)/r")
            let grads = try gradients(of: try (out * r).sum(), wrt: xs)
            for (i, g) in grads.enumerated() {
                assertClose(g, try Self.file.tensor("\(name)/grad\(i)"), 1e-5, "\(name) gradient \(i)")
            }
        }
    }

    func testTimestepEmbeddingMatchesDiffusers() throws {
        let p = params("timestep")
        let t = (p["t"] as! [NSNumber]).map(\.floatValue)
        let emb = try Tensor.timestepEmbedding(t, dim: Self.int(p, "dim"), flipSinToCos: p["flip"] as! Bool,
                                               downscaleFreqShift: Self.float(p, "shift"))
        assertClose(emb, try Self.file.tensor("timestep/out"), 2e-4, "timestep embedding")
    }

    func testAdamWMatchesTorch() throws {
        let p = params("adamw")
        let param = try Self.file.tensor("adamw/p0").copy().param()
        let opt = AdamW([param], lr: Self.float(p, "lr"), weightDecay: Self.float(p, "weight_decay"))
        for i in 0..<Self.int(p, "steps") {
            try opt.update([try Self.file.tensor("adamw/g\(i)")])
            assertClose(param, try Self.file.tensor("adamw/p\(i + 1)"), 1e-6, "AdamW step \(i + 1)")
        }
    }

    /// A run saved after 2 steps and restored into a fresh optimiser continues exactly as if uninterrupted
    /// (the torch steps 3… are the reference).
    func testAdamWResumesFromSavedMoments() throws {
        let p = params("adamw")
        let first = try Self.file.tensor("adamw/p0").copy().param()
        let opt = AdamW([first], lr: Self.float(p, "lr"), weightDecay: Self.float(p, "weight_decay"))
        for i in 0..<2 { try opt.update([try Self.file.tensor("adamw/g\(i)")]) }
        let saved = opt.moments.map { ($0.0.copy(), $0.1.copy()) }
        let second = first.detached.copy().param()
        let resumed = AdamW([second], lr: Self.float(p, "lr"), weightDecay: Self.float(p, "weight_decay"))
        try resumed.restore(step: opt.step, moments: saved)
        for i in 2..<Self.int(p, "steps") {
            try resumed.update([try Self.file.tensor("adamw/g\(i)")])
            assertClose(second, try Self.file.tensor("adamw/p\(i + 1)"), 1e-6, "resumed AdamW step \(i + 1)")
        }
        XCTAssertThrowsError(try resumed.restore(step: 1, moments: []))
    }

    func testGradientClippingMatchesTorch() throws {
        let (clipped, norm) = try clipGradNorm([try Self.file.tensor("clip/in0"), try Self.file.tensor("clip/in1")], maxNorm: 1)
        XCTAssertEqual(norm, try Self.file.tensor("clip/norm").item, accuracy: 1e-5)
        assertClose(clipped[0], try Self.file.tensor("clip/out0"), 1e-6, "clip 0")
        assertClose(clipped[1], try Self.file.tensor("clip/out1"), 1e-6, "clip 1")
        // Below the bound nothing changes.
        let small = try Tensor([0.1, 0.2], shape: [2])
        XCTAssertEqual(try clipGradNorm([small], maxNorm: 1).0[0].scalars, small.scalars)
    }
}
