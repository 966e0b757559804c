// The `sipsim` command: dispatches to subcommands. Each subcommand owns a file of its own.
import Foundation

// Before anything else: the allocator setting glibc reads only at start (see AllocatorTuning).
AllocatorTuning.restartIfUntuned()
let arguments = Array(CommandLine.arguments.dropFirst())
exit(SipsimCommand.main(arguments))
