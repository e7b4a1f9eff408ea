"""A planted corpus for the similarity report, built from the bundled sheet 02 master notebook.

Honest hand-ins: the master and four solutions written independently here (different styles, one in German),
plus two hand-ins that leave most of the template empty and share nothing but it. Planted copies:

- `renamed`: HONEST_1's code with every variable renamed and all functions moved into one cell in another
  order; its written answers are its own.
- `reworded`: HONEST_2's code with its comments reworded and new ones added, the code cells in shuffled order;
  its written answers are its own.
- `prose_copy`: HONEST_3's written answers with two sentences changed; its code is its own.

Every hand-in is a notebook made from the master as a team would hand it in (see submissions/make_examples.py);
`hand_in_texts` turns them into the similarity engine's plain data. All names are invented.
"""

from __future__ import annotations

import copy
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.rubric.notebooks import CODE_BEGIN, CODE_END, PROSE_REGION
from submissions.make_examples import Member, as_hand_in, make_zip, notebook_bytes, zip_name
from tests.conftest import REPO

MASTER = REPO / "reference" / "notebooks" / "sheet02_master.ipynb"
CODE_CELLS = ("code1b", "code1c", "code3c", "code3d", "code3g")


@dataclass(frozen=True)
class Work:
    """A group's own work: solution bodies per code cell (one per solution region) and answers per answer cell.

    A code cell or answer left out keeps the template's `raise NotImplementedError()` or placeholder.
    """

    code: dict[str, list[str]] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)


def _body(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


HONEST_1 = Work(
    code={
        "code1b": [_body("""
            sig = 1 / (1 + np.exp(-net_phi))
            total = 0.0
            for c in range(len(zeta)):
                total += zeta[c] * s_prev[c]
            return sig * (1 - sig) * total
            """)],
        "code1c": ["bidirectional_online_feasible = False"],
        "code3c": [_body("""
            p = np.asarray(p, dtype=float)
            q = np.asarray(q, dtype=float)
            result = 0.0
            for pi, qi in zip(p, q):
                if pi == 0:
                    continue
                if qi == 0:
                    return np.inf
                result += pi * np.log(pi / qi)
            return result
            """), "P = [0.2, 0.8]\nQ = [0.6, 0.4]"],
        "code3d": [_body("""
            std = torch.exp(0.5 * log_var) if torch.is_tensor(log_var) else np.exp(0.5 * np.asarray(log_var))
            return mu + std * eps
            """)],
        "code3g": [_body("""
            if torch.is_tensor(mu):
                mu = mu.detach().double().numpy()
                Sigma = torch.as_tensor(Sigma).detach().double().numpy()
            mu = np.asarray(mu, dtype=float)
            Sigma = np.asarray(Sigma, dtype=float)
            k = mu.shape[0]
            sign, logdet = np.linalg.slogdet(Sigma)
            return 0.5 * (np.trace(Sigma) + mu.dot(mu) - k - logdet)
            """)],
    },
    answers={
        "answer1a": (
            "Gated units can count because the cell state is only changed by adding something to it. If the "
            "forget gate stays open, the input gate can add one unit for every opening bracket and the output "
            "can be read whenever needed, so the cell works like a counter register. In training we expect the "
            "gates to become almost binary, opening or closing completely, and single cells to take over the "
            "role of counting specific symbols."),
        "answer1c": (
            "No. The backward RNN reads the sequence from the last element to the first, so for a label at time "
            "t it would need all inputs after t. In an online setting these inputs are not available yet, so "
            "only the forward half could be used."),
        "answer2a": (
            "L2 regularisation adds the squared norm of the weights to the loss, which keeps the weights small. "
            "Dropout switches off random neurons in every training step so that the network cannot rely on "
            "single units. Early stopping monitors the validation loss and ends the training before the model "
            "starts to memorise the training set."),
        "answer2b": (
            "During training the weights of earlier layers change, and with them the distribution of the inputs "
            "that later layers see. This moving target slows down learning. Ioffe and Szegedy proposed batch "
            "normalisation, which standardises every feature with the statistics of the mini-batch and then "
            "applies a learned scale and shift."),
        "answer2d": (
            "Because of the skip connection the output of a block is its input plus a correction. When we "
            "differentiate, the identity contributes a direct path, so gradients can flow back to the first "
            "layers without being multiplied by many small factors. This is why ResNets with hundreds of layers "
            "can still be trained."),
        "answer3a": (
            "An autoencoder is trained to reproduce its input. The encoder compresses the input into a short "
            "code, and the decoder tries to rebuild the input from this code. Because the code is smaller than "
            "the input, the network has to learn the most important structure of the data, which is useful for "
            "compression and for denoising."),
        "answer3b": (
            "The KL divergence tells us how far a distribution Q is from a reference distribution P. It is zero "
            "if both are equal and positive otherwise. In a VAE it is the regulariser that keeps the encoder's "
            "distribution close to the standard normal prior."),
        "answer4b": (
            "The two networks play a minimax game and their losses depend on each other, so gradient descent can "
            "oscillate instead of converging. A discriminator that is too strong gives the generator vanishing "
            "gradients; a generator that is too strong finds a few samples that fool the discriminator and "
            "produces only those, which is called mode collapse. The Wasserstein GAN and careful balancing of "
            "the updates help."),
    },
)

HONEST_2 = Work(
    code={
        "code1b": [_body("""
            z = torch.as_tensor(zeta, dtype=torch.float64)
            s = torch.as_tensor(s_prev, dtype=torch.float64)
            # Ableitung der Sigmoidfunktion am Netzinput des Forget-Gates
            phi = torch.sigmoid(torch.tensor(float(net_phi), dtype=torch.float64))
            grad = phi * (1.0 - phi)
            return (grad * torch.dot(z, s)).item()
            """)],
        "code1c": ["bidirectional_online_feasible = False  # Rueckwaertsrichtung braucht die Zukunft"],
        "code3c": [_body("""
            p = torch.as_tensor(p, dtype=torch.float64)
            q = torch.as_tensor(q, dtype=torch.float64)
            # nur Terme mit p > 0 tragen bei
            mask = p > 0
            return torch.sum(p[mask] * torch.log(p[mask] / q[mask])).item()
            """), "P = np.array([0.9, 0.1])\nQ = np.array([0.5, 0.5])"],
        "code3d": [_body("""
            # sigma aus der Log-Varianz
            sigma = (log_var / 2).exp() if isinstance(log_var, torch.Tensor) else np.exp(np.asarray(log_var) / 2)
            return mu + sigma * eps
            """)],
        "code3g": [_body("""
            m = torch.as_tensor(mu, dtype=torch.float64)
            S = torch.as_tensor(Sigma, dtype=torch.float64)
            dim = m.numel()
            chol = torch.linalg.cholesky(S)
            # log det ueber die Cholesky-Zerlegung
            log_det = 2.0 * torch.sum(torch.log(torch.diag(chol)))
            kl = 0.5 * (torch.trace(S) + torch.dot(m, m) - dim - log_det)
            return kl.item()
            """)],
    },
    answers={
        "answer1a": (
            "Die Zelle eines LSTM wird additiv aktualisiert. Dadurch kann sie einen Wert über viele Zeitschritte "
            "halten und bei jedem passenden Symbol um einen festen Betrag erhöhen oder verringern, also zählen. "
            "Beim Training erwarten wir, dass die Gates in die Sättigung gehen und wie Schalter arbeiten."),
        "answer1c": (
            "Nein. Ein bidirektionales RNN braucht für jede Ausgabe auch die späteren Eingaben, weil die "
            "Rückwärtsrichtung am Ende der Sequenz beginnt. Online sind diese Eingaben noch nicht da."),
        "answer2a": (
            "Gewichtsabnahme (L2) bestraft große Gewichte, Dropout deaktiviert zufällig Neuronen und verhindert "
            "Ko-Adaption, und Datenaugmentierung erzeugt zusätzliche Trainingsbeispiele. Alle drei verringern "
            "die Überanpassung."),
        "answer2c": (
            "Nein. Mehr Parameter bedeuten mehr Kapazität, und ein Netz mit zu viel Kapazität lernt auch das "
            "Rauschen der Trainingsdaten auswendig. Allerdings generalisieren sehr große Netze in der Praxis oft "
            "erstaunlich gut, wenn genug Daten und Regularisierung vorhanden sind."),
        "answer3b": (
            "Die KL-Divergenz misst den Unterschied zwischen zwei Wahrscheinlichkeitsverteilungen. Sie ist nie "
            "negativ und nicht symmetrisch. Im VAE hält sie die Verteilung des Encoders nahe an der "
            "Standardnormalverteilung."),
        "answer4a": (
            "Ein GAN besteht aus einem Generator, der aus Rauschen Beispiele erzeugt, und einem Diskriminator, "
            "der echte von erzeugten Beispielen unterscheiden soll. Beide werden abwechselnd trainiert, der "
            "Generator versucht den Diskriminator zu täuschen."),
    },
)

HONEST_3 = Work(
    code={
        "code1b": [_body("""
            # logistic sigmoid written with tanh, which does not overflow
            f = 0.5 * (1.0 + np.tanh(0.5 * net_phi))
            dot = np.dot(np.asarray(zeta, dtype=float), np.asarray(s_prev, dtype=float))
            return f * (1.0 - f) * dot
            """)],
        "code1c": ["bidirectional_online_feasible = False"],
        "code3c": [_body("""
            p, q = np.array(p, dtype=np.float64), np.array(q, dtype=np.float64)
            nz = p > 0
            with np.errstate(divide="ignore"):
                return float(np.sum(p[nz] * (np.log(p[nz]) - np.log(q[nz]))))
            """), "P = np.array([0.1, 0.4, 0.5])\nQ = np.array([0.3, 0.3, 0.4])"],
        "code3d": [_body("""
            lib = torch if isinstance(mu, torch.Tensor) else np
            return lib.exp(0.5 * lib.asarray(log_var)) * lib.asarray(eps) + lib.asarray(mu)
            """)],
        "code3g": [_body("""
            mu, Sigma = np.asarray(mu, dtype=np.float64), np.asarray(Sigma, dtype=np.float64)
            eig = np.linalg.eigvalsh(Sigma)
            return 0.5 * (eig.sum() + np.sum(mu ** 2) - len(mu) - np.sum(np.log(eig)))
            """)],
    },
    answers={
        "answer1a": (
            "The cell state of an LSTM is a sum that is carried from step to step, and the gates decide how much "
            "is added or removed. A network can use one cell as a counter: it adds a constant for every a and "
            "subtracts it for every b, and the output gate reports when the value returns to zero. We expect "
            "the gate activations to saturate during training so that they behave like switches, and the "
            "learned counters then generalise to longer strings than seen in training."),
        "answer2a": (
            "First, weight decay penalises large weights and so prefers simpler functions. Second, dropout "
            "randomly removes hidden units during training, which acts like averaging over many smaller "
            "networks. Third, batch normalisation adds noise through the batch statistics and has a mild "
            "regularising effect. All of them narrow the gap between training and test error."),
        "answer2b": (
            "Internal covariate shift means that the input distribution of each layer keeps changing because "
            "the parameters of the previous layers are updated. The layers then chase a moving target, and we "
            "need low learning rates. Batch normalization fixes the mean and variance of each activation over "
            "the mini-batch and adds a learnable affine transform; at inference it uses running averages."),
        "answer2c": (
            "Not necessarily. A model with many parameters can fit the training data perfectly, including its "
            "noise, and then fail on new data. On the other hand, modern deep networks are heavily "
            "over-parameterised and still generalise, so what matters is the combination of data, architecture "
            "and regularisation rather than the raw parameter count."),
        "answer3b": (
            "The Kullback-Leibler divergence compares two probability distributions: it is the expected "
            "logarithmic difference between them, weighted by the first one. It is used as a loss whenever a "
            "model distribution should approach a target distribution, for example for the latent distribution "
            "of a variational autoencoder."),
        "answer3e": (
            "VAEs tend to produce blurry images because the pixel-wise reconstruction loss averages over "
            "possible outputs. One remedy from the literature is the VQ-VAE of van den Oord et al., which uses a "
            "discrete latent codebook and an autoregressive prior and gives much sharper samples."),
        "answer3f": (
            "A plain autoencoder maps every input to a single point and only minimises the reconstruction error. "
            "A VAE maps every input to a distribution and adds the KL divergence between this distribution and "
            "the prior to the loss. The KL term makes the latent space smooth and filled, so we can sample new "
            "codes from the prior and decode them into new data."),
        "answer4a": (
            "A GAN has two parts. The generator takes a random noise vector and turns it into a sample, and the "
            "discriminator gets either a real sample or a generated one and outputs the probability that it is "
            "real. They are trained against each other until the generated samples look real."),
    },
)

HONEST_4 = Work(
    code={
        "code1b": [_body("""
            s = 1.0 / (1.0 + np.exp(-net_phi))
            return s * (1.0 - s) * float(np.sum(np.multiply(zeta, s_prev)))
            """)],
        "code1c": ["bidirectional_online_feasible = False"],
        "code3c": [_body("""
            p = np.asarray(p, float); q = np.asarray(q, float)
            terms = [a * np.log(a / b) if a > 0 else 0.0 for a, b in zip(p, q)]
            return sum(terms)
            """), "P, Q = [0.25, 0.75], [0.5, 0.5]"],
        "code3d": [_body("""
            if torch.is_tensor(mu):
                return mu + eps * torch.exp(log_var * 0.5)
            return np.asarray(mu) + np.asarray(eps) * np.exp(np.asarray(log_var) * 0.5)
            """)],
        "code3g": [_body("""
            mu = np.asarray(mu, float)
            Sigma = np.asarray(Sigma, float)
            trace_term = np.trace(Sigma)
            quad = mu @ mu
            return 0.5 * (trace_term + quad - mu.size - np.log(np.linalg.det(Sigma)))
            """)],
    },
    answers={
        "answer1a": ("Through the additive cell update a unit can increment and decrement a stored value, which "
                     "is counting. Gates saturate during training and act as on/off switches."),
        "answer1c": "No, the backward direction needs inputs that have not arrived yet.",
        "answer2a": "Dropout, L1/L2 weight penalties and early stopping; each one reduces overfitting.",
        "answer2b": ("Layer input distributions shift while earlier layers train. Batch norm normalises "
                     "activations per mini-batch, then rescales them with learned parameters."),
        "answer2c": ("No: too many parameters can overfit. But very large networks often generalise well anyway "
                     "(double descent)."),
        "answer2d": "Residual connections add an identity path, so the gradient does not vanish through depth.",
        "answer3a": ("Learn a compressed representation by reconstructing the input. Components: encoder, "
                     "bottleneck (latent code), decoder."),
        "answer3b": "It measures how one probability distribution differs from another; used as a VAE regulariser.",
        "answer4b": ("Training is a two-player game without a stable optimum. A dominant discriminator gives no "
                     "gradient, a dominant generator collapses to a few modes."),
    },
)

# What the copies add of their own.
RENAMED_OWN_ANSWERS = {
    "answer1c": ("Not really. Such a network needs the complete sequence before it can emit an output, since "
                 "one of its two directions starts at the end."),
    "answer3a": ("Autoencoders find a low-dimensional description of data without labels: an encoder network, a "
                 "small latent layer and a decoder network that maps back."),
    "answer4a": ("Generator and discriminator: one forges data from noise, the other judges real against fake; "
                 "they improve by competing."),
}
REWORDED_OWN_ANSWERS = {
    "answer1a": ("An LSTM can count with its memory cell, because the cell accumulates input over time and the "
                 "forget gate can leave it untouched. The gates learn to act like discrete switches."),
    "answer2d": ("Residual blocks let the gradient skip layers through the shortcut connection, which avoids "
                 "vanishing gradients in very deep nets."),
    "answer3e": ("A known weakness is blurry samples. The beta-VAE changes the weight of the KL term, and "
                 "VAE-GANs add an adversarial loss to sharpen the images."),
}
# HONEST_2's comments, reworded by the copier, and the comments the copier added.
REWORDED_COMMENTS = {
    "# Ableitung der Sigmoidfunktion am Netzinput des Forget-Gates": "# derivative of the gate's sigmoid",
    "# Rueckwaertsrichtung braucht die Zukunft": "# the backward pass would need future inputs",
    "# nur Terme mit p > 0 tragen bei": "# terms where p is zero contribute nothing (0 log 0 = 0)",
    "# sigma aus der Log-Varianz": "# standard deviation from the log variance",
    "# log det ueber die Cholesky-Zerlegung": "# the log-determinant from the Cholesky factor's diagonal",
}
# HONEST_1's names and the copier's new ones (whole words only).
RENAMES = {"sig": "activation", "total": "acc", "c": "idx", "result": "divergence", "pi": "a_i", "qi": "b_i",
           "std": "scale", "sign": "_", "logdet": "log_det_sigma", "k": "dims", "p": "probs", "q": "ref"}
# The two sentences of HONEST_3's answers that the prose copy rewrote.
CHANGED_SENTENCES = {
    "answer2a": ("Third, batch normalisation adds noise through the batch statistics and has a mild "
                 "regularising effect.",
                 "A third option is data augmentation, which enlarges the training set with transformed "
                 "copies of the examples."),
    "answer3f": ("A plain autoencoder maps every input to a single point and only minimises the reconstruction "
                 "error.",
                 "In a normal autoencoder each input is encoded as one fixed vector, trained only to reconstruct."),
}
PROSE_COPY_OWN = Work(code={
    "code1b": [_body("""
        gate = torch.sigmoid(torch.as_tensor(net_phi, dtype=torch.float64))
        zs = torch.as_tensor(zeta, dtype=torch.float64) @ torch.as_tensor(s_prev, dtype=torch.float64)
        return float(gate * (1 - gate) * zs)
        """)],
    "code1c": ["bidirectional_online_feasible = False"],
})
# Two hand-ins that fill in almost nothing: they share the template and nothing else.
TEMPLATE_ONLY_A = Work(
    code={"code3d": [_body("""
        sd = np.exp(np.multiply(0.5, log_var))
        return np.add(mu, np.multiply(sd, eps))
        """)]},
    answers={"answer3b": "KL(P||Q) is an asymmetric measure of dissimilarity between two distributions."},
)
TEMPLATE_ONLY_B = Work(
    code={"code1c": ["bidirectional_online_feasible = False"]},
    answers={"answer2d": "The shortcut keeps gradients alive, so very deep networks still learn."},
)

# Invented teams, one per hand-in.
TEAMS = {
    "master": [Member("Ilse Vandenberg", "2390001", "ilse.vandenberg@example.org"),
               Member("Tomas Halloran", "2390002", "tomas.halloran@example.org")],
    "honest_1": [Member("Greta Lindqvist", "2390003", "greta.lindqvist@example.org"),
                 Member("Omar Haddad", "2390004", "omar.haddad@example.org")],
    "honest_2": [Member("Jana Vogelsang", "2390005", "jana.vogelsang@example.org"),
                 Member("Felix Brückner", "2390006", "felix.brueckner@example.org")],
    "honest_3": [Member("Priya Raman", "2390007", "priya.raman@example.org"),
                 Member("Lukas Ebner", "2390008", "lukas.ebner@example.org")],
    "honest_4": [Member("Mateo Ruiz", "2390009", "mateo.ruiz@example.org"),
                 Member("Hana Sato", "2390010", "hana.sato@example.org")],
    "renamed": [Member("Nils Akerman", "2390011", "nils.akerman@example.org"),
                Member("Beatriz Costa", "2390012", "beatriz.costa@example.org")],
    "reworded": [Member("Yusuf Demir", "2390013", "yusuf.demir@example.org"),
                 Member("Clara Weiss", "2390014", "clara.weiss@example.org")],
    "prose_copy": [Member("Aino Virtanen", "2390015", "aino.virtanen@example.org"),
                   Member("Kofi Mensah", "2390016", "kofi.mensah@example.org")],
    "template_a": [Member("Rosa Lindgren", "2390017", "rosa.lindgren@example.org"),
                   Member("Dario Ferri", "2390018", "dario.ferri@example.org")],
    "template_b": [Member("Sven Olsen", "2390019", "sven.olsen@example.org"),
                   Member("Mei Chen", "2390020", "mei.chen@example.org")],
}
COPIES = {frozenset({"honest_1", "renamed"}), frozenset({"honest_2", "reworded"}),
          frozenset({"honest_3", "prose_copy"})}
TEMPLATE_PAIR = frozenset({"template_a", "template_b"})
HONEST = ("master", "honest_1", "honest_2", "honest_3", "honest_4")


def master() -> nbformat.NotebookNode:
    return nbformat.read(str(MASTER), as_version=4)


def fill_code(source: str, bodies: list[str]) -> str:
    """A master code cell with each `# BEGIN SOLUTION` region replaced by the next body, at its indentation."""
    out, bodies, inside = [], list(bodies), False
    for line in source.splitlines():
        begin = CODE_BEGIN.match(line)
        if begin:
            inside = True
            indent = begin.group(1)
            body = bodies.pop(0) if bodies else "raise NotImplementedError()"
            out.extend(indent + piece if piece else "" for piece in body.splitlines())
        elif CODE_END.match(line):
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def _empty_code(source: str) -> str:
    return fill_code(source, ["# YOUR CODE HERE\nraise NotImplementedError()"] * source.count("# BEGIN SOLUTION"))


def notebook_of(work: Work, team: list[Member], *, base: nbformat.NotebookNode | None = None
                ) -> nbformat.NotebookNode:
    """The master with the group's work in it, as the team hands it in (their names, no solution markers)."""
    notebook = copy.deepcopy(base if base is not None else master())
    for cell in notebook.cells:
        cell_id = cell.get("metadata", {}).get("grader", {}).get("id")
        if cell.cell_type == "code" and cell_id in CODE_CELLS:
            cell.source = fill_code(cell.source, work.code[cell_id]) if cell_id in work.code \
                else _empty_code(cell.source)
        elif cell.cell_type == "markdown" and PROSE_REGION.search(cell.source):
            answer = work.answers.get(cell_id, "YOUR ANSWER HERE")
            cell.source = PROSE_REGION.sub(lambda _, text=answer: text, cell.source)
    return as_hand_in(notebook, team)


def _rename(text: str, renames: dict[str, str]) -> str:
    pattern = re.compile(r"(?<![\w.'\"])(" + "|".join(map(re.escape, renames)) + r")(?![\w'\"])")
    return pattern.sub(lambda m: renames[m.group(1)], text)


def renamed_copy() -> nbformat.NotebookNode:
    """HONEST_1's code renamed, every function in one cell in another order; the rest of the notebook blank."""
    honest = notebook_of(HONEST_1, TEAMS["renamed"])
    sources = {c.get("id"): c.source for c in honest.cells if c.cell_type == "code"}
    cells = [c for c in notebook_of(Work(answers=RENAMED_OWN_ANSWERS), TEAMS["renamed"]).cells
             if c.cell_type == "markdown"]
    order = ["code3g", "code3d", "code1b", "code3c", "code1c"]
    combined = "\n\n\n".join(_rename(sources[cell_id], RENAMES) for cell_id in order)
    # The imports stay on top, once.
    combined = "import numpy as np\nimport torch\n\n\n" + combined.replace("import numpy as np\nimport torch\n", "")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [*cells, nbformat.v4.new_code_cell(combined)]
    return notebook


def reworded_copy() -> nbformat.NotebookNode:
    """HONEST_2's code with reworded and added comments, code cells shuffled; own written answers."""
    notebook = notebook_of(HONEST_2, TEAMS["reworded"])
    own = notebook_of(Work(answers=REWORDED_OWN_ANSWERS), TEAMS["reworded"])
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for cell in code:
        for old, new in REWORDED_COMMENTS.items():
            cell.source = cell.source.replace(old, new)
        cell.source = "# our solution, checked with the public tests\n" + cell.source.replace(
            "    return", "    # result\n    return", 1)
    shuffled = [code[i] for i in (3, 0, 4, 2, 1)]
    markdown = [c for c in own.cells if c.cell_type == "markdown"]
    result = nbformat.v4.new_notebook()
    result.cells = markdown[:4] + shuffled + markdown[4:]
    return result


def prose_copy() -> nbformat.NotebookNode:
    answers = dict(HONEST_3.answers)
    for cell_id, (old, new) in CHANGED_SENTENCES.items():
        assert old in answers[cell_id], cell_id
        answers[cell_id] = answers[cell_id].replace(old, new)
    return notebook_of(Work(code=PROSE_COPY_OWN.code, answers=answers), TEAMS["prose_copy"])


def corpus_notebooks() -> dict[str, nbformat.NotebookNode]:
    """Every hand-in of the planted corpus by its case name."""
    base = master()
    master_answers = {c.metadata["grader"]["id"]: PROSE_REGION.sub("", c.source) for c in base.cells
                      if c.cell_type == "markdown" and PROSE_REGION.search(c.source)}
    assert master_answers, "the master has no answer cells"
    return {
        "master": as_hand_in(base, TEAMS["master"]),
        "honest_1": notebook_of(HONEST_1, TEAMS["honest_1"]),
        "honest_2": notebook_of(HONEST_2, TEAMS["honest_2"]),
        "honest_3": notebook_of(HONEST_3, TEAMS["honest_3"]),
        "honest_4": notebook_of(HONEST_4, TEAMS["honest_4"]),
        "renamed": renamed_copy(),
        "reworded": reworded_copy(),
        "prose_copy": prose_copy(),
        "template_a": notebook_of(TEMPLATE_ONLY_A, TEAMS["template_a"]),
        "template_b": notebook_of(TEMPLATE_ONLY_B, TEAMS["template_b"]),
    }


def write_corpus_zips(folder: Path) -> dict[str, Path]:
    """The corpus as zips named by the sheet's rule, one per case."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for case, notebook in corpus_notebooks().items():
        path = folder / zip_name(TEAMS[case])
        path.write_bytes(make_zip({"sheet02.ipynb": notebook_bytes(notebook)}))
        paths[case] = path
    return paths
