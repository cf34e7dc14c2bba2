/// A user function's bindings while it runs. A function defined inside another keeps its defining scope
/// (a closure), so it reads the enclosing function's names, its own included (recursion); its `let` binds in
/// its own scope only. Names not found in the chain are the script's globals.
final class Scope {
    var bindings = OrderedDict()
    let parent: Scope?
    init(parent: Scope?) { self.parent = parent }

    subscript(name: String) -> Value? {
        var s: Scope? = self
        while let scope = s {
            if let v = scope.bindings[name] { return v }
            s = scope.parent
        }
        return nil
    }

    /// Every name visible in the chain, innermost first (for "did you mean").
    var names: [String] {
        var out: [String] = [], s: Scope? = self
        while let scope = s { out += scope.bindings.keys; s = scope.parent }
        return out
    }
}
