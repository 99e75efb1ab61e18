#!/usr/bin/env python
# coding: utf-8

# # ニューラルネットワークの学習
# 
# The code cells of `chapter4-notes.md`, exported as `jupyter nbconvert --to script` writes them.

# In[3]:


import numpy as np

def mean_squared_error(y,t):
    return 0.5 * np.sum((y-t)**2)


# In[22]:


def cross_entropy_error(y,t):
    delta = 1e-7
    return-np.sum(t * np.log(y + delta))


# In[7]:


t = [0,0,1,0,0,0,0,0,0,0]
y= [0.1,0.05,0.6,0.0,0.05,0.1,0.0,0.1,0.0,0.0]
cross_entropy_error(np.array(y),np.array(t))


# In[1]:


def numerical_diff(f,x):
    h = 1e-4
    return (f(x+h) - f(x-h)) / (2*h)


# In[2]:


def function_tmp1(x0):
    return x0*x0 + 4.0**2
numerical_diff(function_tmp1, 3.0)


# In[25]:


import numpy as np

def numerical_gradient(f,x):
    h = 1e-4
    grad = np.zeros_like(x)
    
    for idx in range(x.size):
        tmp_val = x[idx]
        #f(x+h)の計算
        x[idx] = tmp_val+h
        fxh1 = f(x)
        #f(x-h)の計算
        x[idx] = tmp_val-h
        fxh2 = f(x)
        
        grad[idx] = (fxh1 - fxh2)/(2*h)
        x[idx] = tmp_val
    return grad


# In[6]:


numerical_gradient(function_1, np.array([3.0,4.0]))


# In[14]:


def gradient_descent(f, x, lr, step_num):
    for i in range(step_num):
        grad = numerical_gradient(f,x)
        x -= lr * grad
    return x

def function_2(x):
    return x[0]**2 + x[1]**2
init_x = np.array([-3.0,4.0])
gradient_descent(function_2, x=init_x, lr=0.1, step_num=100)


# In[15]:


class simpleNet:
    def __init__(self):
        self.W = np.random.randn(2,3)
    def predict(self, x):
        return np.dot(x, self.W)
    def loss(self, x, t):
        z = self.predict(x)
        y = softmax(z)
        loss = cross_entropy_error(y, t)
        return loss


# In[31]:


def softmax(a):
    c = np.max(a)
    exp_a = np.exp(a-c)
    sum_exp_a = np.sum(exp_a)
    y = exp_a / sum_exp_a
    return y


# In[32]:


net = simpleNet()
print(net.W)


# In[33]:


x = np.array([0.6, 0.9])
p = net.predict(x)
print(p)


# In[34]:


# 最大値のインデックス
np.argmax(p)


# In[35]:


t = np.array([0,0,1])
net.loss(x, t)


# In[36]:


def f(W):
    return net.loss(x, t)
dW = numerical_gradient(f, net.W)
print(dW)

