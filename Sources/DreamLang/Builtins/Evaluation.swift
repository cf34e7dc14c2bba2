import Foundation
import DreamTensor
import DreamWorld
import DreamMethod
import DreamAssets

/// The oracle and the evaluator, loaded on first use from the shipped weights.
nonisolated(unsafe) var sharedEvaluator: Evaluator? = nil

func evaluator() throws -> Evaluator {
    if let e = sharedEvaluator { return e }
    let e = Evaluator(oracle: try Oracle(path: Assets.oracle))
    sharedEvaluator = e
    return e
}

extension Registry {
    func registerEvaluation() {
        let topic = "evaluation"
        register(Builtin("oracle", [.positional("images", .tensor, "image batch [N, 3, H, W] in [0, 1]")],
                         doc: "The world's attribute classifier: one dictionary of predicted attributes per image.",
                         example: "oracle(world.render(n: 2, seed: 0))") { a, _ in
            let images = try a.tensor("images")
            guard images.rank == 4, images.shape[1] == 3, images.shape[0] > 0 else {
                throw ArgumentError("oracle: images must be a batch [N, 3, H, W], got \(shapeString(images.shape))", argument: "images")
            }
            return .list(try evaluator().oracle.predict(images).map { p in
                .dict(OrderedDict(Attribute.allCases.map { ($0.rawValue, .string(p[$0]!)) }))
            })
        }, topic: topic)
        register(Builtin("evaluate", [.positional("images", .tensor, "generated image batch [N, 3, H, W], N > 5"),
                                      .labeled("reference", .oneOf([.string, .dict]), "a concept name or a constraints dictionary")],
                         doc: "Metrics of generated images against a concept (WORLD.md): in_concept, fid, density, coverage, precision, recall, diversity, ref_distance.",
                         example: "evaluate(sample(D, n: 50), reference: \"cones\")") { a, _ in
            let images = try a.tensor("images")
            let c: Constraints
            if case .string(let name) = a["reference"] {
                guard let found = World.concept(name) else {
                    let hint = closest(name, among: World.concepts.map(\.0)).map { "; did you mean \"\($0)\"?" } ?? ""
                    throw ArgumentError("evaluate: no concept named \"\(name)\"\(hint) (concepts: \(World.concepts.map(\.0).joined(separator: ", ")))", argument: "reference")
                }
                c = found
            } else {
                c = try parseConstraints(a["reference"], argument: "reference")
            }
            do {
                return .dict(OrderedDict(try evaluator().evaluate(images, constraints: c).map { ($0.0, .number($0.1)) }))
            } catch let e as TensorError { throw ArgumentError(e.message, argument: "images") }
        }, topic: topic)
    }
}
