// The `sipsim` command: dispatches to subcommands. Each subcommand owns a file of its own.
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
exit(SipsimCommand.main(arguments))
