/*
 * pgfleet-agent: options, then the configuration checked in full before
 * anything starts (-n stops there); the daemon itself comes with its issue.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/conf.h"

#define DEFAULT_CONFIG "/etc/pgfleet/agent.yaml"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pgfleet-agent [-c FILE] [-n] [-d] [-h]\n"
	    "  -c FILE   configuration file (default " DEFAULT_CONFIG ")\n"
	    "  -n        check the configuration, print \"configuration OK\" or every error, exit\n"
	    "  -d        stay in the foreground and log to stderr\n"
	    "  -h        this help\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	const char *path = DEFAULT_CONFIG;
	int check = 0, ch;
	struct conf_agent *conf;
	struct conf_errors errs = {0};

	while ((ch = getopt_long(argc, argv, "c:ndh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'd':
			break;	/* the only mode so far */
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pgfleet-agent: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (conf_load_agent(path, &conf, &errs) == -1) {
		conf_errors_print(&errs, stderr);
		conf_errors_free(&errs);
		return 2;
	}
	if (check) {
		printf("configuration OK\n");
		conf_free_agent(conf);
		return 0;
	}
	fprintf(stderr, "pgfleet-agent: daemon mode arrives with the agent issue\n");
	conf_free_agent(conf);
	return 2;
}
