"""The seed's training loop, kept as the seed wrote it, for ``kd-bench`` to time against.

The reference script (``/work/shared/seed``, "2.2 功能描述") trains on torchvision's CIFAR-10 through a
``DataLoader`` that decodes every sample on the fly (``ToTensor`` + ``Normalize(0.5, 0.5)``), with
``batch_size=128, shuffle=True, num_workers=2``, SGD (lr 0.001, momentum 0.9), the teacher's forward
pass on every distillation batch, and its own KD loss.  The functions and nets below are copied from
it line for line; only the names of the module-level objects they used (``criterion``) are kept as
globals.  ``TeacherNet``/``StudentNet`` are kept too (not ``models.ConvNet``, which kd_core's trainer runs
through ``kd_core.train.fastpaths.training_forward``), so the seed is timed as shipped; ``seed_net`` gives one the
weights of a ``ConvNet`` (same parameter names and shapes), so both sides start from the same weights.

``ImageDataset`` stands in for ``torchvision.datasets.CIFAR10`` when the real files are not on disk:
it holds uint8 H×W×C images and, like CIFAR10.__getitem__, turns each into a PIL image and applies
the transform per sample, so the per-sample cost the seed pays is really paid.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as transforms
from PIL import Image


def seed_transform(channels: int = 3) -> transforms.Compose:
    """CIFAR-10 的预处理: ToTensor, then Normalize(0.5, 0.5) per channel."""
    return transforms.Compose(
        [
            transforms.ToTensor(),
            transforms.Normalize((0.5,) * channels, (0.5,) * channels),
        ]
    )


class ImageDataset(torch.utils.data.Dataset):
    """uint8 images (N, H, W) or (N, H, W, C) with int labels; decoded per sample like torchvision's CIFAR10."""

    def __init__(self, data: np.ndarray, targets, transform=None):
        self.data, self.targets, self.transform = data, [int(t) for t in targets], transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        img, target = self.data[index], self.targets[index]
        img = Image.fromarray(img)  # as torchvision does, "to be consistent with all other datasets"
        if self.transform is not None:
            img = self.transform(img)
        return img, target


def seed_loader(dataset, train: bool, batch_size: int = 128) -> torch.utils.data.DataLoader:
    """trainloader / testloader as in the seed: shuffle for training only, two worker processes."""
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=train, num_workers=2)


# 定义简单的教师和学生网络
class TeacherNet(nn.Module):
    def __init__(self):
        super(TeacherNet, self).__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc = nn.Linear(64 * 16 * 16, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = x.view(-1, 64 * 16 * 16)
        x = self.fc(x)
        return x


class StudentNet(nn.Module):
    def __init__(self):
        super(StudentNet, self).__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc = nn.Linear(16 * 16 * 16, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = x.view(-1, 16 * 16 * 16)
        x = self.fc(x)
        return x


def seed_net(model: nn.Module) -> nn.Module:
    """The seed's own net with ``model``'s weights: TeacherNet/StudentNet for a 64/16-channel CIFAR ConvNet;
    any other model (the digits MLPs, which the seed has no counterpart for) is copied as it is."""
    import copy

    for cls in (TeacherNet, StudentNet):
        net = cls()
        shapes = {k: v.shape for k, v in net.state_dict().items()}
        if shapes == {k: v.shape for k, v in model.state_dict().items()}:
            net.load_state_dict(model.state_dict())
            return net
    return copy.deepcopy(model)


# 定义优化器和损失函数
criterion = nn.CrossEntropyLoss()


# 训练教师模型
def train_teacher(model, trainloader, optimizer, num_epochs=10):
    model.train()
    for epoch in range(num_epochs):  # noqa: B007 (unused, as in the seed: its loop is kept line for line)
        for inputs, labels in trainloader:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()


# 蒸馏过程
def distillation(y, labels, teacher_scores, T, alpha):
    return nn.KLDivLoss()(F.log_softmax(y / T, dim=1), F.softmax(teacher_scores / T, dim=1)) * (
        T * T * 2.0 * alpha
    ) + F.cross_entropy(y, labels) * (1.0 - alpha)


# 训练学生模型
def train_student(teacher_net, student_net, trainloader, optimizer_student, T=20.0, alpha=0.7):
    teacher_net.eval()
    student_net.train()
    for data in trainloader:
        inputs, labels = data
        optimizer_student.zero_grad()

        with torch.no_grad():
            teacher_outputs = teacher_net(inputs)

        student_outputs = student_net(inputs)
        loss = distillation(student_outputs, labels, teacher_outputs, T, alpha)
        loss.backward()
        optimizer_student.step()


# 测试学生模型的准确性
def evaluate(model, testloader):
    model.eval()
    correct = 0
    total = 0
    with torch.no_grad():
        for data in testloader:
            inputs, labels = data
            outputs = model(inputs)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return 100 * correct / total
