/* What an operator's metrics read from the store: how full the map is. */
#include "st.h"
#include "st_int.h"
#include "pb_err.h"

#include <lmdb.h>
#include <string.h>

int st_map_use(st_env *env, uint64_t *used, uint64_t *size)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc;

	if ((rc = mdb_env_info(env->env, &info)) || (rc = mdb_env_stat(env->env, &st)))
		return sti_err(NULL, rc);
	*used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	*size = (uint64_t)info.me_mapsize;
	return PB_OK;
}
