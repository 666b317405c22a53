/* Nested selection: the hyperparameters and the operating threshold of a
 * classifier chosen on inner folds by unit of the training units only, so
 * that an outer fold's figures are measured on units no choice saw. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/internal.h"

/* The grid's axes; the grid is every combination, the cheapest first so
 * that a tie goes to the simpler model. */
static const unsigned grid_rounds[] = {100, 200, 400};
static const unsigned grid_depth[] = {3, 4};
static const double grid_eta[] = {0.05, 0.1};
static const enum predict_class_weight grid_weight[] = {PREDICT_WEIGHT_RATIO,
                                                        PREDICT_WEIGHT_SQRT};

#define N_ROUNDS (sizeof grid_rounds / sizeof grid_rounds[0])
#define N_DEPTH (sizeof grid_depth / sizeof grid_depth[0])
#define N_ETA (sizeof grid_eta / sizeof grid_eta[0])
#define N_WEIGHT (sizeof grid_weight / sizeof grid_weight[0])

/* The seed of the inner folds is this far from the caller's. */
#define SELECT_SEED_OFFSET 0x5e1ec7ull

_Static_assert(N_ROUNDS *N_DEPTH *N_ETA *N_WEIGHT == PREDICT_SELECT_GRID,
               "the grid's size");

void predict_select_grid(size_t i, struct predict_select_choice *out)
{
    /* Rounds vary fastest: the models of one (weight, depth, eta) are the
     * prefixes of one boosting run. */
    out->rounds = grid_rounds[i % N_ROUNDS];
    i /= N_ROUNDS;
    out->eta = grid_eta[i % N_ETA];
    i /= N_ETA;
    out->max_depth = grid_depth[i % N_DEPTH];
    i /= N_DEPTH;
    out->weight = grid_weight[i % N_WEIGHT];
}

void predict_select_apply(struct predict_train_params *p,
                          const struct predict_select_choice *c)
{
    p->rounds = c->rounds;
    p->max_depth = c->max_depth;
    p->eta = c->eta;
    p->scale_pos_weight = 0.0;
    p->weight_sqrt = c->weight == PREDICT_WEIGHT_SQRT;
}

double predict_select_threshold(const float *p,
                                const float *y,
                                size_t n,
                                double *score)
{
    double best = -1.0, thr = 0.5;

    for (int k = 1; k <= PREDICT_SELECT_THRESHOLDS; k++) {
        double prec, rec, t = k * 0.05;
        predict_precision_recall(p, y, n, t, &prec, &rec);
        if (fmin(prec, rec) >= best) {
            best = fmin(prec, rec);
            thr = t;
        }
    }
    *score = best;
    return thr;
}

size_t predict_select_best(const double *score, size_t n)
{
    size_t best = 0;

    for (size_t i = 1; i < n; i++) {
        if (score[i] > score[best]) {
            best = i;
        }
    }
    return best;
}

int predict_select_run(const struct predict_dataset *ds,
                       const size_t *rows,
                       size_t n,
                       const struct predict_train_params *base,
                       uint64_t seed,
                       struct predict_select_result *out,
                       char *errmsg)
{
    size_t nf = ds->n_features, n_units = 0, n_oof = 0;
    uint32_t *unit_of_group =
        malloc((ds->n_groups + 1) * sizeof *unit_of_group);
    unsigned *fold = malloc((ds->n_groups + 1) * sizeof *fold);
    size_t *trn = malloc((n + 1) * sizeof *trn);
    size_t *tst = malloc((n + 1) * sizeof *tst);
    float *x = malloc((n * nf + 1) * sizeof *x);
    float *y = malloc((n + 1) * sizeof *y);
    float *oof = malloc((PREDICT_SELECT_GRID * n + 1) * sizeof *oof);
    int rv = 0;

    memset(out, 0, sizeof *out);
    if (unit_of_group == NULL || fold == NULL || trn == NULL || tst == NULL ||
        x == NULL || y == NULL || oof == NULL) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE, "out of memory");
        rv = AUGUR_ENOMEM;
        goto out;
    }
    /* The units among @rows, numbered in order of appearance, dealt into
     * the inner folds. */
    for (size_t g = 0; g < ds->n_groups; g++) {
        unit_of_group[g] = UINT32_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t g = ds->group[rows[i]];
        if (unit_of_group[g] == UINT32_MAX) {
            unit_of_group[g] = (uint32_t)n_units++;
        }
    }
    if (n_units < PREDICT_SELECT_INNER_FOLDS) {
        snprintf(errmsg, PREDICT_ERRMSG_SIZE,
                 "selection needs at least %d units, the rows have %zu",
                 PREDICT_SELECT_INNER_FOLDS, n_units);
        rv = AUGUR_EINVAL;
        goto out;
    }
    predict_folds_assign(n_units, PREDICT_SELECT_INNER_FOLDS,
                         seed + SELECT_SEED_OFFSET, fold);
    for (unsigned k = 0; k < PREDICT_SELECT_INNER_FOLDS && rv == 0; k++) {
        size_t ntr = 0, nte = 0;
        for (size_t i = 0; i < n; i++) {
            size_t r = rows[i];
            if (isnan(ds->label[r])) {
                continue; /* unknown: neither trained on nor scored */
            }
            if (fold[unit_of_group[ds->group[r]]] == k) {
                tst[nte++] = r;
            } else {
                trn[ntr++] = r;
            }
        }
        if (nte == 0) {
            continue;
        }
        for (size_t i = 0; i < nte; i++) {
            memcpy(x + i * nf, ds->x + tst[i] * nf, nf * sizeof *x);
            y[n_oof + i] = ds->label[tst[i]];
        }
        /* One boosting run per (weight, depth, eta), of the most rounds;
         * fewer rounds are its prefixes. */
        for (size_t g = 0; g < PREDICT_SELECT_GRID && rv == 0; g += N_ROUNDS) {
            struct predict_select_choice c;
            struct predict_train_params p = *base;
            struct predict_model m;
            predict_select_grid(g, &c);
            c.rounds = grid_rounds[N_ROUNDS - 1];
            predict_select_apply(&p, &c);
            p.calibration = PREDICT_CALIB_NONE;
            p.survival = false;
            p.regress_rul = false;
            p.aft_refit = false;
            predict_model_init(&m);
            rv = predict_model_train(&m, ds, trn, ntr, &p, errmsg);
            for (size_t j = 0; rv == 0 && j < N_ROUNDS; j++) {
                rv = predict_model_score_raw(&m, x, nte, grid_rounds[j],
                                             oof + (g + j) * n + n_oof, errmsg);
            }
            predict_model_close(&m);
            if (base->progress != NULL) {
                base->progress(
                    base->progress_arg,
                    (unsigned)(k * PREDICT_SELECT_GRID + g + N_ROUNDS),
                    PREDICT_SELECT_INNER_FOLDS * PREDICT_SELECT_GRID);
            }
        }
        n_oof += nte;
    }
    if (rv != 0) {
        goto out;
    }
    for (size_t g = 0; g < PREDICT_SELECT_GRID; g++) {
        out->threshold[g] =
            predict_select_threshold(oof + g * n, y, n_oof, &out->score[g]);
    }
    out->best = predict_select_best(out->score, PREDICT_SELECT_GRID);
    predict_select_grid(out->best, &out->choice);
    out->chosen_threshold = out->threshold[out->best];
    out->chosen_score = out->score[out->best];
    out->units = n_units;
out:
    free(unit_of_group);
    free(fold);
    free(trn);
    free(tst);
    free(x);
    free(y);
    free(oof);
    return rv;
}
