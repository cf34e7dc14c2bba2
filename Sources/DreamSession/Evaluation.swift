import Foundation
import DreamTensor
import DreamWorld
import DreamMethod
import DreamAssets
import DreamLang

extension Session {
    func registerEvaluation() {
        let r = registry
        let topic = "evaluation"
        r.register(Builtin("oracle", [.positional("images", .tensor, "image batch [N, 3, H, W] in [0, 1]")],
                         doc: "The world's attribute classifier: one dictionary of predicted attributes per image.",
                         example: "oracle(world.render(n: 2, seed: 0))") { a, _ in
            let images = try a.tensor("images")
            guard images.rank == 4, images.shape[1] == 3, images.shape[0] > 0 else {
                throw ArgumentError("oracle: images must be a batch [N, 3, H, W], got \(shapeString(images.shape))", argument: "images")
            }
            return .list(try self.evaluator().oracle.predict(images).map { p in
                .dict(OrderedDict(Attribute.allCases.map { ($0.rawValue, .string(p[$0]!)) }))
            })
        }, topic: topic)
        r.register(Builtin("evaluate", [.positional("images", .tensor, "generated image batch [N, 3, H, W], N > 5"),
                                      .labeled("reference", .oneOf([.string, .dict, .list]), "a concept name, a constraints dictionary, or a list of them (a union of modes)"),
                                      .labeled("references", .optional(.tensor), "the reference images (for ref_distance, tv_refs and novel); default: the concept's reference set (world.render(n: 8, or 16 for a concept with modes, seed: 0, concept: …))")],
                         doc: "Metrics of generated images against a concept (docs/world.md): in_concept, fid, density, coverage, precision, recall, diversity, ref_distance, and the exact measures from the oracle's labels: tv, tv_refs, combinations, novel, entropy, modes (the share of in-concept images in each mode), tv_attributes (tv attribute by attribute: which one the images get wrong).",
                         example: "evaluate(sample(D, n: 50), reference: \"cones\")") { a, _ in
            let images = try a.tensor("images")
            let (c, count) = try parseConcept(a["reference"], argument: "reference", caller: "evaluate: ")
            do {
                let refs = try a.has("references") ? a.tensor("references")
                    : Renderer.render(World.scenes(n: count, seed: 0, concept: c), size: Oracle.resolution)
                let e = try self.evaluator().evaluate(images, concept: c, references: refs)
                return .dict(OrderedDict(e.metrics.map { ($0.0, .number($0.1)) } + [("modes", .list(e.modes.map { .number($0) })),
                    ("tv_attributes", .dict(OrderedDict(e.tvByAttribute.map { ($0.0.rawValue, .number($0.1)) })))]))
            } catch let e as TensorError { throw ArgumentError(e.message, argument: "images") }
        }, topic: topic)
    }
}
