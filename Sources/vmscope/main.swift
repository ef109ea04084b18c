// The thin executable: everything lives in VMScopeShell.
import Glibc
import VMScopeShell

exit(VMScopeMain.run(CommandLine.arguments))
