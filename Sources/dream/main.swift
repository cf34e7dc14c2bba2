import Foundation
import DreamTensor
import DreamIO

// The language and REPL arrive with the next layer; for now the command reports its version.
let version = "dream 0.1.0"
let args = CommandLine.arguments.dropFirst()
if args.first == "--version" || args.isEmpty {
    print(version)
} else if args.first == "--help" {
    print("\(version)\nusage: dream [--version] [--help]")
} else {
    FileHandle.standardError.write("dream: unknown arguments: \(args.joined(separator: " "))\n".data(using: .utf8)!)
    exit(2)
}
