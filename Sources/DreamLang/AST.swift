/// The syntax tree. Every node carries the location errors about it point at.
public indirect enum Expr {
    case number(Double, SourceLocation)
    case string(String, SourceLocation)
    case bool(Bool, SourceLocation)
    case name(String, SourceLocation)
    case list([Expr], SourceLocation)
    case dict([(Expr, Expr)], SourceLocation)
    case unary(String, Expr, SourceLocation)
    case binary(String, Expr, Expr, SourceLocation)
    case call(Expr, [Argument], SourceLocation)
    case member(Expr, String, SourceLocation)
    case index(Expr, [IndexItem], SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .number(_, let l), .string(_, let l), .bool(_, let l), .name(_, let l), .list(_, let l), .dict(_, let l),
             .unary(_, _, let l), .binary(_, _, _, let l), .call(_, _, let l), .member(_, _, let l), .index(_, _, let l):
            return l
        }
    }
}

public struct Argument {
    public let label: String?
    public let value: Expr
    public let location: SourceLocation
}

public enum IndexItem {
    case at(Expr)
    case slice(Expr?, Expr?, Expr?)
    case ellipsis
}

public indirect enum Stmt {
    case bind(String, Expr, SourceLocation)
    case expr(Expr)
    case forLoop(String, Expr, [Stmt], SourceLocation)
    case whileLoop(Expr, [Stmt], SourceLocation)
    case ifElse(Expr, [Stmt], [Stmt]?, SourceLocation)
    case breakLoop(SourceLocation)
    case continueLoop(SourceLocation)
    case returnValue(Expr?, SourceLocation)
    case function(FunctionDefinition)
    /// `import "PATH"`: runs another script once, for its functions and bindings.
    case importFile(String, SourceLocation)
    /// `:command rest`, with the location of the colon.
    case meta(String, SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .bind(_, _, let l), .forLoop(_, _, _, let l), .whileLoop(_, _, let l), .ifElse(_, _, _, let l),
             .breakLoop(let l), .continueLoop(let l), .returnValue(_, let l), .importFile(_, let l), .meta(_, let l): return l
        case .function(let f): return f.location
        case .expr(let e): return e.location
        }
    }
}

/// `func name(a, b: default) { … }`: positional parameters first, then labelled ones with their defaults.
public struct FunctionDefinition {
    public struct Parameter {
        public let name: String
        public let labeled: Bool
        public let defaultValue: Expr?
    }
    public let name: String
    public let parameters: [Parameter]
    public let body: [Stmt]
    /// The comment lines directly above `func`, without their '#'.
    public let doc: String
    public let location: SourceLocation
}
