import Foundation
import TTNMigrateCLI

exit(await CommandLineRunner.run(Array(CommandLine.arguments.dropFirst())))
