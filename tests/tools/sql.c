/*
 * pgfleet-test-sql: print one of the worker's statements, for the plan tests
 * (tests/integration/t_claim_plan.sh), which prepare it as the worker does and count
 * the rows it reads.
 *   pgfleet-test-sql load-events    worker/session_db.c: a batch of events' rows
 *   pgfleet-test-sql status-rows    worker/record.c: a flush's status rows
 */
#include <stdio.h>
#include <string.h>

#include "worker/record.h"
#include "worker/session_db.h"

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "load-events") == 0) {
		puts(session_db_load_sql());
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "status-rows") == 0) {
		puts(record_insert_sql());
		return 0;
	}
	fprintf(stderr, "usage: pgfleet-test-sql load-events|status-rows\n");
	return 2;
}
