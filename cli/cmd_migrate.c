/* pgfleet migrate: placeholder until common/db lands (replaced in the foundation work). */
#include <stdio.h>
#include "cli/cli.h"

int
cmd_migrate(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "pgfleet migrate: not built yet\n");
	return CLI_USAGE;
}
