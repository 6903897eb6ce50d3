/* pgfleet-scheduler: placeholder main until its issue lands. */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "pgfleet-scheduler: not built yet\n");
	return 2;
}
