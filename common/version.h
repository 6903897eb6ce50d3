/* version: what pgfleet's programs say they are (Agent-Version of the agent's Hello). */
#ifndef PGFLEET_VERSION_H
#define PGFLEET_VERSION_H

#define PGFLEET_VERSION "0.9.0"

#endif
