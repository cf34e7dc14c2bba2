import Foundation
import DreamTensor

extension Registry {
    func registerTensors() {
        let t = "tensors"
        func unaryOp(_ name: String, _ doc: String, _ f: @escaping (Tensor) throws -> Tensor) {
            register(Builtin(name, [.positional("x", .tensor)], doc: doc, example: "\(name)(randn([3], seed: 1))") { a, _ in
                .tensor(try f(try a.tensor("x")))
            }, topic: t)
        }
        let seedParam = Param.labeled("seed", .optional(.int), "random seed; default: the next seed drawn from --seed")

        register(Builtin("tensor", [.positional("values", .any)], doc: "A tensor from a number or a nested list of numbers.",
                         example: "tensor([[1, 2], [3, 4]])") { a, _ in
            switch a["values"] {
            case .number(let x): return .tensor(Tensor(scalar: Float(x)))
            case .tensor(let x): return .tensor(x)
            case let v: return .tensor(try tensorFromNested(v))
            }
        }, topic: t)
        register(Builtin("zeros", [.positional("shape", .shape)], doc: "A tensor of zeros.", example: "zeros([2, 3])") { a, ip in
            let s = try a.ints("shape"); try ip.checkSize(s); return .tensor(Tensor(zeros: s))
        }, topic: t)
        register(Builtin("ones", [.positional("shape", .shape)], doc: "A tensor of ones.", example: "ones([2, 3])") { a, ip in
            let s = try a.ints("shape"); try ip.checkSize(s); return .tensor(Tensor(repeating: 1, shape: s))
        }, topic: t)
        register(Builtin("randn", [.positional("shape", .shape), seedParam], doc: "Standard normal samples (Philox; same seed, same values).",
                         example: "randn([2, 3], seed: 1)") { a, ip in
            let s = try a.ints("shape"); try ip.checkSize(s); return .tensor(Tensor.randn(s, seed: try ip.seed(a)))
        }, topic: t)
        register(Builtin("rand", [.positional("shape", .shape), seedParam], doc: "Uniform samples in [0, 1).",
                         example: "rand([4], seed: 2)") { a, ip in
            let s = try a.ints("shape"); try ip.checkSize(s); return .tensor(Tensor.rand(s, seed: try ip.seed(a)))
        }, topic: t)
        register(Builtin("arange", [.positional("n", .int)], doc: "0, 1, …, n−1 as a tensor.", example: "arange(5)") { a, ip in
            let n = try a.int("n")
            guard n >= 0 else { throw ArgumentError("arange: n must be ≥ 0, got \(n)", argument: "n") }
            try ip.checkSize([n])
            return .tensor(try Tensor((0..<n).map(Float.init), shape: [n]))
        }, topic: t)
        register(Builtin("reshape", [.positional("x", .tensor), .positional("shape", .ints)], doc: "Same values, new shape (one dimension may be -1).",
                         example: "reshape(arange(6), [2, 3])") { a, _ in
            .tensor(try a.tensor("x").reshaped(try a.ints("shape")))
        }, topic: t)
        unaryOp("transpose", "Swaps the last two axes.") { try $0.transposed() }
        register(Builtin("permute", [.positional("x", .tensor), .positional("axes", .ints)], doc: "Reorders axes: result axis i is input axis axes[i].",
                         example: "permute(zeros([2, 3, 4]), [2, 0, 1])") { a, _ in
            .tensor(try a.tensor("x").permuted(try a.ints("axes")))
        }, topic: t)
        register(Builtin("cat", [.positional("tensors", .tensors), .labeled("axis", .int, default: .number(0))], doc: "Joins tensors along an existing axis.",
                         example: "cat([zeros([2, 3]), ones([1, 3])], axis: 0)") { a, ip in
            let xs = try a.tensors("tensors")
            return .tensor(try concatenate(xs, axis: try a.int("axis")))
        }, topic: t)
        register(Builtin("stack", [.positional("tensors", .tensors), .labeled("axis", .int, default: .number(0))], doc: "Joins tensors of one shape along a new axis.",
                         example: "stack([zeros([3]), ones([3])], axis: 0)") { a, _ in
            .tensor(try stack(try a.tensors("tensors"), axis: try a.int("axis")))
        }, topic: t)
        register(Builtin("matmul", [.positional("a", .tensor), .positional("b", .tensor)], doc: "Matrix product (same as a @ b); leading dims broadcast.",
                         example: "matmul(randn([2, 3], seed: 1), randn([3, 4], seed: 2))") { a, ip in
            .tensor(try ip.matmul(try a.tensor("a"), try a.tensor("b")))
        }, topic: t)
        register(Builtin("conv2d", [.positional("x", .tensor), .positional("w", .tensor), .labeled("bias", .optional(.tensor)),
                                    .labeled("stride", .int, default: .number(1)), .labeled("padding", .int, default: .number(0))],
                         doc: "2-D convolution: x [N, Cin, H, W], w [Cout, Cin, kH, kW].",
                         example: "conv2d(randn([1, 3, 8, 8], seed: 1), randn([4, 3, 3, 3], seed: 2), padding: 1)") { a, ip in
            let x = try a.tensor("x"), w = try a.tensor("w"), pad = try a.int("padding"), stride = try a.int("stride")
            if x.rank == 4 && w.rank == 4 && stride > 0 {
                try ip.checkSize([x.shape[0], w.shape[0], (x.shape[2] + 2 * pad) / stride + 1, (x.shape[3] + 2 * pad) / stride + 1])
            }
            return .tensor(try a.tensor("x").conv2d(try a.tensor("w"), bias: a.optionalTensor("bias"), stride: try a.int("stride"), padding: try a.int("padding")))
        }, topic: t)
        register(Builtin("group_norm", [.positional("x", .tensor), .labeled("groups", .int), .labeled("weight", .optional(.tensor)),
                                        .labeled("bias", .optional(.tensor)), .labeled("eps", .number, default: .number(1e-5))],
                         doc: "Group normalisation of [N, C, ...] over groups of channels.",
                         example: "group_norm(randn([2, 8, 4, 4], seed: 1), groups: 4)") { a, _ in
            .tensor(try a.tensor("x").groupNorm(groups: try a.int("groups"), weight: a.optionalTensor("weight"), bias: a.optionalTensor("bias"), eps: Float(try a.number("eps"))))
        }, topic: t)
        register(Builtin("layer_norm", [.positional("x", .tensor), .labeled("weight", .optional(.tensor)), .labeled("bias", .optional(.tensor)),
                                        .labeled("eps", .number, default: .number(1e-5))],
                         doc: "Layer normalisation over the last axis.", example: "layer_norm(randn([2, 16], seed: 1))") { a, _ in
            .tensor(try a.tensor("x").layerNorm(weight: a.optionalTensor("weight"), bias: a.optionalTensor("bias"), eps: Float(try a.number("eps"))))
        }, topic: t)
        register(Builtin("softmax", [.positional("x", .tensor), .labeled("axis", .int, default: .number(-1))], doc: "Softmax along an axis.",
                         example: "softmax(tensor([1, 2, 3]))") { a, _ in
            .tensor(try a.tensor("x").softmax(axis: try a.int("axis")))
        }, topic: t)
        register(Builtin("attention", [.positional("q", .tensor), .positional("k", .tensor), .positional("v", .tensor), .labeled("heads", .int, default: .number(1))],
                         doc: "Multi-head scaled dot-product attention: q [B, Nq, D], k and v [B, Nk, D]; D split into heads.",
                         example: "attention(randn([1, 4, 8], seed: 1), randn([1, 6, 8], seed: 2), randn([1, 6, 8], seed: 3), heads: 2)") { a, _ in
            .tensor(try Tensor.attention(try a.tensor("q"), try a.tensor("k"), try a.tensor("v"), heads: try a.int("heads")))
        }, topic: t)
        unaryOp("silu", "x·σ(x).") { $0.silu() }
        unaryOp("gelu", "Exact GELU (erf).") { $0.gelu() }
        unaryOp("exp", "Elementwise e^x.") { $0.exp() }
        unaryOp("log", "Elementwise natural logarithm.") { $0.log() }
        unaryOp("sqrt", "Elementwise square root.") { $0.sqrt() }
        unaryOp("abs", "Elementwise absolute value.") { $0.abs() }
        register(Builtin("clamp", [.positional("x", .tensor), .labeled("min", .optional(.number)), .labeled("max", .optional(.number))],
                         doc: "Limits values to [min, max].", example: "clamp(randn([4], seed: 1), min: 0, max: 1)") { a, _ in
            .tensor(try a.tensor("x").clamp(min: Float(a.optionalNumber("min") ?? -.infinity), max: Float(a.optionalNumber("max") ?? .infinity)))
        }, topic: t)
        func reduction(_ name: String, _ doc: String, _ f: @escaping (Tensor, Int?) throws -> Tensor) {
            register(Builtin(name, [.positional("x", .tensor), .labeled("axis", .optional(.int), "axis to reduce; none = all")],
                             doc: doc, example: "\(name)(randn([2, 3], seed: 1), axis: 1)") { a, _ in
                .tensor(try f(try a.tensor("x"), a.optionalInt("axis")))
            }, topic: "reductions")
        }
        reduction("sum", "Sum over all elements or along an axis.") { try $0.sum(axis: $1) }
        reduction("mean", "Mean over all elements or along an axis.") { try $0.mean(axis: $1) }
        reduction("std", "Standard deviation (unbiased, n − 1, as PyTorch).") { try $0.std(axis: $1) }
        reduction("var", "Variance (unbiased, n − 1, as PyTorch).") { try $0.variance(axis: $1) }
        reduction("min", "Smallest value over all elements or along an axis.") { try $0.min(axis: $1) }
        reduction("max", "Largest value over all elements or along an axis.") { try $0.max(axis: $1) }
        register(Builtin("param", [.positional("x", .tensor)], doc: "Marks a tensor as a leaf to differentiate with grad().",
                         example: "let w = param(randn([3], seed: 1))") { a, _ in
            .tensor(try a.tensor("x").detached.param())
        }, topic: "gradients")
        register(Builtin("grad", [.positional("loss", .tensor), .labeled("wrt", .list)],
                         doc: "Gradients of a scalar loss with respect to each param (reverse mode).",
                         example: "grad(sum(w * w), wrt: [w])") { a, _ in
            let loss = try a.tensor("loss")
            var ps: [Tensor] = []
            for (i, v) in try a.list("wrt").enumerated() {
                guard case .tensor(let p) = v else { throw ArgumentError("grad: wrt item \(i) is \(describeForError(v)), not a tensor", argument: "wrt") }
                ps.append(p)
            }
            return .list(try gradients(of: loss, wrt: ps).map { .tensor($0) })
        }, topic: "gradients")
    }
}
