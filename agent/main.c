/* pgfleet-agent: placeholder main until its issue lands. */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "pgfleet-agent: not built yet\n");
	return 2;
}
