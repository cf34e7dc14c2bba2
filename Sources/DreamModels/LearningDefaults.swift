import Foundation

/// Learning settings a model folder recommends for `learn` or `textual_inversion` (model_index.json,
/// "dream_defaults" → "learn" / "textual_inversion"); a nil field leaves the method's own default (the
/// paper's), as for an SD checkpoint that says nothing.
public struct LearningDefaults {
    public var objective: String?
    public var prompts: Int?, tokens: Int?, steps: Int?, batch: Int?, samples: Int?
    public var lr: Double?, ortho: Double?, promptCost: Double?
    public var lrSchedule: String?, ema: Double?
    /// Competing prompts: whether to learn a blend beside them (`learn(…, blend:)`).
    public var blend: Bool?

    public init() {}

    /// The fields of a "dream_defaults" entry; unknown keys are ignored.
    init(_ d: [String: Any]?) {
        guard let d else { return }
        func int(_ k: String) -> Int? { (d[k] as? NSNumber)?.intValue }
        func number(_ k: String) -> Double? { (d[k] as? NSNumber)?.doubleValue }
        objective = d["objective"] as? String
        prompts = int("prompts"); tokens = int("tokens"); steps = int("steps"); batch = int("batch"); samples = int("samples")
        lr = number("lr"); ortho = number("ortho"); promptCost = number("prompt_cost")
        lrSchedule = d["lr_schedule"] as? String; ema = number("ema"); blend = d["blend"] as? Bool
    }
}
