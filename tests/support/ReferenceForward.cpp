#include "ReferenceForward.h"

#include <algorithm>
#include <cmath>

namespace nugget::test {

std::vector<std::vector<double>> referenceLogits(const ModelConfig &c, const TensorStore &store,
                                                 const std::vector<int64_t> &ids)
{
    auto matrix = [&](const std::string &name) {
        return store.tensor(name).to(at::kDouble).contiguous();
    };
    auto matvec = [](const at::Tensor &w, const std::vector<double> &x) {
        const int64_t rows = w.size(0), cols = w.size(1);
        const double *data = w.data_ptr<double>();
        std::vector<double> y(static_cast<size_t>(rows), 0.0);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t k = 0; k < cols; ++k)
                y[r] += data[r * cols + k] * x[k];
        return y;
    };
    auto rmsnorm = [&](const std::vector<double> &x, const at::Tensor &w) {
        double ss = 0;
        for (double v : x)
            ss += v * v;
        const double scale = 1.0 / std::sqrt(ss / x.size() + c.rmsNormEps);
        std::vector<double> y(x.size());
        for (size_t i = 0; i < x.size(); ++i)
            y[i] = x[i] * scale * w.data_ptr<double>()[i];
        return y;
    };
    auto rope = [&](std::vector<double> &v, int64_t heads, int64_t pos) {
        const int64_t hd = c.headDim, half = hd / 2;
        for (int64_t h = 0; h < heads; ++h) {
            double *x = v.data() + h * hd;
            for (int64_t i = 0; i < half; ++i) {
                const double angle = pos * std::pow(c.ropeTheta, -2.0 * i / hd);
                const double a = x[i], b = x[i + half];
                x[i] = a * std::cos(angle) - b * std::sin(angle);
                x[i + half] = b * std::cos(angle) + a * std::sin(angle);
            }
        }
    };

    const auto embed = matrix("model.embed_tokens.weight");
    const auto head = c.tieWordEmbeddings ? embed : matrix("lm_head.weight");
    const int64_t T = static_cast<int64_t>(ids.size()), H = c.hiddenSize, hd = c.headDim;
    std::vector<std::vector<double>> x(T, std::vector<double>(H));
    for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < H; ++i)
            x[t][i] = embed.data_ptr<double>()[ids[t] * H + i];

    for (int64_t l = 0; l < c.numHiddenLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        const auto wq = matrix(p + "self_attn.q_proj.weight"), wk = matrix(p + "self_attn.k_proj.weight"),
                   wv = matrix(p + "self_attn.v_proj.weight"), wo = matrix(p + "self_attn.o_proj.weight");
        const auto w1 = matrix(p + "mlp.gate_proj.weight"), w3 = matrix(p + "mlp.up_proj.weight"),
                   w2 = matrix(p + "mlp.down_proj.weight");
        const auto n1 = matrix(p + "input_layernorm.weight"), n2 = matrix(p + "post_attention_layernorm.weight");
        std::vector<std::vector<double>> q(T), k(T), v(T);
        for (int64_t t = 0; t < T; ++t) {
            const auto xn = rmsnorm(x[t], n1);
            q[t] = matvec(wq, xn);
            k[t] = matvec(wk, xn);
            v[t] = matvec(wv, xn);
            rope(q[t], c.numAttentionHeads, t);
            rope(k[t], c.numKeyValueHeads, t);
        }
        const int64_t group = c.numAttentionHeads / c.numKeyValueHeads;
        for (int64_t t = 0; t < T; ++t) {
            std::vector<double> attended(static_cast<size_t>(c.numAttentionHeads * hd), 0.0);
            for (int64_t h = 0; h < c.numAttentionHeads; ++h) {
                const int64_t kvh = h / group;
                std::vector<double> scores(static_cast<size_t>(t + 1));
                double maxScore = -1e300;
                for (int64_t s = 0; s <= t; ++s) {
                    double dot = 0;
                    for (int64_t i = 0; i < hd; ++i)
                        dot += q[t][h * hd + i] * k[s][kvh * hd + i];
                    scores[s] = dot / std::sqrt(static_cast<double>(hd));
                    maxScore = std::max(maxScore, scores[s]);
                }
                double total = 0;
                for (auto &s : scores)
                    total += (s = std::exp(s - maxScore));
                for (int64_t s = 0; s <= t; ++s)
                    for (int64_t i = 0; i < hd; ++i)
                        attended[h * hd + i] += scores[s] / total * v[s][kvh * hd + i];
            }
            const auto o = matvec(wo, attended);
            for (int64_t i = 0; i < H; ++i)
                x[t][i] += o[i];
            const auto xn = rmsnorm(x[t], n2);
            const auto gate = matvec(w1, xn), up = matvec(w3, xn);
            std::vector<double> hidden(gate.size());
            for (size_t i = 0; i < gate.size(); ++i)
                hidden[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
            const auto down = matvec(w2, hidden);
            for (int64_t i = 0; i < H; ++i)
                x[t][i] += down[i];
        }
    }
    std::vector<std::vector<double>> logits(T);
    const auto finalNorm = matrix("model.norm.weight");
    for (int64_t t = 0; t < T; ++t)
        logits[t] = matvec(head, rmsnorm(x[t], finalNorm));
    return logits;
}

double referenceLogProb(const ModelConfig &c, const TensorStore &store, const std::vector<int64_t> &ids, size_t from,
                        std::vector<double> *tokens)
{
    const auto logits = referenceLogits(c, store, ids);
    double total = 0;
    for (size_t t = std::max<size_t>(from, 1); t < ids.size(); ++t) {
        const auto &row = logits[t - 1];
        const double top = *std::max_element(row.begin(), row.end());
        double sum = 0;
        for (const double v : row)
            sum += std::exp(v - top);
        const double value = row[static_cast<size_t>(ids[t])] - top - std::log(sum);
        if (tokens)
            tokens->push_back(value);
        total += value;
    }
    return total;
}

} // namespace nugget::test
